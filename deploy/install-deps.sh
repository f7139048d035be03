#!/bin/sh
# Installs the Debian 12 packages bucketbridge needs to build and test.
# Runs as root (CI, containers) or through sudo.
set -e
PKGS="build-essential pkg-config librdkafka-dev libcurl4-openssl-dev libjson-c-dev
      libyaml-dev libmicrohttpd-dev libcmocka-dev clang clang-format kcat curl openssl python3"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PKGS
