/** `lolly --help`: flags, the configuration file's format, and the signals. */
export const HELP = `Usage:
  lolly --config <file> [--port <n>] [--host <addr>]   run a gateway from a configuration file
  lolly --check --config <file>                         validate the file and exit (0 if it is good)
  lolly --demo [--port <n>] [--host <addr>]             three local upstreams behind a gateway on :3000
  lolly --help | --version

Options:
  -c, --config <file>  configuration file: .json, .yaml or .yml
  -p, --port <n>       listen on this port instead of the serving listen entry's (demo: instead of
                       $PORT or 3000); redirect entries keep theirs
      --host <addr>    listen on this address instead of the serving listen entry's (default 127.0.0.1)
      --check          read and validate the file like a start would, print a summary, exit
      --demo           run the demo (what \`npm start\` runs); Ctrl-C stops it
  -h, --help           this text
  -v, --version        the version of fastify-lolly

Configuration file (YAML shown; JSON has the same keys):
  listen:                      # where the gateway listens: one entry, or a list (below)
    host: 127.0.0.1            #   default 127.0.0.1; 0.0.0.0 for every interface (containers)
    port: 8080                 #   default 3000; 0 picks a free port
  # HTTPS, HTTP/2 and a plain-HTTP port that redirects to it: a list of entries, one of which serves.
  # listen:
  #   - host: 0.0.0.0
  #     port: 443
  #     tls:                     # HTTPS with these PEM files (relative to this file's folder); the
  #       cert: fullchain.pem    #   certificate file may hold the chain after it. The key must not
  #       key: privkey.pem       #   be encrypted. Both are checked at --check, start and SIGHUP.
  #     http2: true              # HTTP/2 through ALPN, HTTP/1.1 (and WebSocket) for other clients;
  #                              #   default false; needs tls (cleartext h2c is not served)
  #   - host: 0.0.0.0
  #     port: 80                 # required on a redirect entry
  #     redirect: true           # answers every request with 308 to https://<Host's name>:<the tls
  #                              #   entry's port, left out if 443>/<same path and query>; 400 without Host
  # Only one entry serves (the gateway has one server): every other one must be a redirect entry.
  logger:
    level: info                # fatal, error, warn, info (default), debug, trace, silent
  trustProxy: false            # Fastify's trustProxy: true, a hop count, or proxy addresses/CIDRs
  shutdownTimeout: 30000       # ms to wait for in-flight requests on SIGTERM/SIGINT; 0 = no limit
  routes:                      # default: every path to the default upstream, unchanged
    - prefix: /api             # requests to /api and /api/* (any method) ...
      upstream: api            #   ... go to this upstream (default: the default upstream)
      rewritePrefix: /         #   ... with /api replaced by / (default: the path is kept)
      balancer: p2c            #   optional, as a plugin route's config.upstream: balancer, hashKey,
      retry: false             #   hashBalanceFactor, retry, responseTimeout, bodyTimeout,
                               #   clientBodyTimeout, websocket, affinity
    - prefix: /
      upstream: web
  upstreams:                   # every option of the fastify-lolly plugin, passed to register as is
    api:
      balancer: least-connections
      healthCheck: { path: /health, interval: 5000 }
      retry: { attempts: 2 }
      targets:
        - http://10.0.0.1:8080
        - { url: http://10.0.0.2:8080, weight: 2 }
        - { url: http://10.0.0.3:8080, backup: true }
    web:
      targets: [http://10.0.0.4:3000, http://10.0.0.5:3000]
      websocket: true          # tunnel WebSocket upgrades (handshake first, with failover)
      affinity:                # sticky sessions through a signed cookie (socket.io needs them)
        cookie: { name: web, secret: change-me-to-16-chars-or-more }
  # Instead of upstreams, a single upstream can be given as top-level targets (plus its settings).
  # Other plugin options (defaultUpstream, xForwarded, status, metrics, and upstream settings as the
  # defaults of every upstream) go at the top level. Any other key is an error naming the file and
  # the path (lolly.yaml: upstreams.api.targets[1].weight must be an integer from 1 to 1000000, got 0).
  # Editors complete and check the file against the package's JSON Schema: put this first line in it
  # yaml-language-server: $schema=./node_modules/fastify-lolly/schema/lolly.schema.json
  # (in a JSON file: "$schema": "./node_modules/fastify-lolly/schema/lolly.schema.json").

Signals:
  SIGTERM, SIGINT   stop: close the listening sockets (redirect entries too) and the open WebSocket
                    tunnels, send HTTP/2 clients GOAWAY, finish the requests in flight, stop the
                    health probes, exit 0 (1 after shutdownTimeout). A second signal exits at once (1).
  SIGHUP            reload the file. Added, removed and changed targets are applied live; targets
                    that did not change keep their health state, counters and connections; removed
                    targets finish their in-flight requests first. logger.level and shutdownTimeout
                    change live too, and the TLS certificate and key are read again (other file
                    names included): new connections get the new certificate, open ones keep
                    theirs. A change to anything else (listen otherwise, routes, trustProxy, the
                    upstreams or their settings) needs a restart: such a reload is refused as a
                    whole with a log line saying so, as is a file that is not valid (a certificate
                    or key that does not parse included), and the running configuration keeps
                    serving, with its certificate.

Exit codes: 0 stopped cleanly, 1 the file or the start failed (or stopping did), 2 bad arguments.
`
