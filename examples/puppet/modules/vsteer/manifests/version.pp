# Converge a service behind vsteerd to a version: register the version's
# servers and roll out to it with examples/deploy.sh, unless it already is
# the service's stable version. A rollout that the judge rolls back fails
# the resource (deploy.sh exits 1 with the reason), and the next run tries
# again. Idempotent: once the version is stable, a run changes nothing.
#
#   vsteer::version { 'default':
#     version  => '2.0',
#     servers  => ['127.0.0.1:9002'],
#     strategy => 'session',
#   }
#
# Needs vsteerctl, jq and curl on the node, and deploy.sh installed at
# $deploy (make install puts it there, and vsteerctl in PREFIX/bin, where
# deploy.sh finds it).
define vsteer::version (
  Pattern[/\A[0-9]+(\.[0-9]+)*\z/]           $version,
  Array[Pattern[/\A[0-9A-Fa-f.:\[\]]+\z/], 1] $servers,
  Pattern[/\A[A-Za-z0-9_.-]+\z/]             $service         = $title,
  Enum['instant', 'session', 'gradual']      $strategy        = 'session',
  Optional[Integer[0]]                       $session_timeout = undef,
  Optional[Pattern[/\A[^']*\z/]]             $steps           = undef,
  Pattern[/\A[^']*\z/]                       $analysis        = '{}',
  Pattern[/\Ahttps?:\/\/[^' ]+\z/]           $api             = 'http://127.0.0.1:9900',
  Optional[Pattern[/\A[^' ]+\z/]]            $token_file      = undef,
  String                                     $deploy          = '/usr/local/lib/vsteer/deploy.sh',
  Integer[1]                                 $timeout         = 3600,
  Integer[0]                                 $drain_wait      = 0,
) {
  $auth = $token_file ? {
    undef   => '',
    default => "-H \"Authorization: Bearer \$(cat '${token_file}')\"",
  }
  $opts = [
    "-a '${api}'",
    "-s ${strategy}",
    "-A '${analysis}'",
    "-d ${drain_wait}",
    $session_timeout ? { undef => '', default => "-T ${session_timeout}" },
    $steps ? { undef => '', default => "-S '${steps}'" },
    $token_file ? { undef => '', default => "-t '${token_file}'" },
  ].filter |$o| { $o != '' }.join(' ')

  # Stable: a completed rollout to it, or no rollout and all weight on it.
  $stable = "if .rollout then (.rollout.to == \$v and .rollout.phase == \"completed\") else ([.versions[] | select(.weight == 100) | .version] == [\$v]) end"

  exec { "vsteer ${service} ${version}":
    command   => "${deploy} ${opts} '${service}' '${version}' ${servers.join(' ')}",
    unless    => "curl -sf ${auth} '${api}/v1/services/${service}' | jq -e --arg v '${version}' '${stable}'",
    path      => ['/usr/local/bin', '/usr/bin', '/bin'],
    provider  => shell,
    timeout   => $timeout,
    logoutput => true,
  }
}
