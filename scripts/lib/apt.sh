# Sourced by the set-up steps that need Debian packages:
#
#   apt_install PACKAGE...    install what is named, without recommended packages
#                             (prints "all present" when nothing is named)
apt_install() {
  if [ "$#" -eq 0 ]; then
    echo "all present"
    return 0
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
