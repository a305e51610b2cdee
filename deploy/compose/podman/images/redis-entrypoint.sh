#!/bin/sh
# The redis image's entry point, as far as compose and the test kit rely on it: options alone run
# redis-server; without a configuration file protected mode is off (the server is reached from other
# containers; compose's own command sets TLS and an ACL file with the default user off).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  shift
  case "${1:-}" in
    *.conf) ;;
    *) set -- --protected-mode no "$@" ;;
  esac
  set -- redis-server "$@"
fi
exec "$@"
