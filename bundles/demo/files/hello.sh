#!/bin/sh
# the demo service: prints its configured greeting
exec sed -n 's/^greeting = //p' "${1:-/etc/hello/hello.conf}"
