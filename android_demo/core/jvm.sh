#!/usr/bin/env bash
# The Android core's JVM side, with the JDK and Debian's junit4 (no Gradle, no Android SDK):
#   android_demo/core/jvm.sh deps    install junit4 where it is missing (Debian/Ubuntu, as root)
#   android_demo/core/jvm.sh build   compile core + tests into android_demo/core/build/jvm
#   android_demo/core/jvm.sh test    build, then run every *Test class under src/test (found, not
#                                    listed); prints "N passed, N failed"
# JUNIT_JAR and HAMCREST_JAR point at other copies of the jars.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
junit="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"
out="$here/build/jvm"

deps() {
  if [[ -f "$junit" && -f "$hamcrest" ]]; then return 0; fi
  local as_root=()
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n); fi
  if command -v apt-get >/dev/null && { [[ $(id -u) -eq 0 ]] || [[ ${#as_root[@]} -gt 0 ]]; }; then
    # a fresh machine may have no package lists yet: update once if the first try fails
    if "${as_root[@]}" apt-get install -y -q --no-install-recommends junit4 >/dev/null 2>&1 ||
       { "${as_root[@]}" apt-get update -q >/dev/null 2>&1 &&
         "${as_root[@]}" apt-get install -y -q --no-install-recommends junit4 >/dev/null 2>&1; }; then
      [[ -f "$junit" && -f "$hamcrest" ]] && return 0
    fi
  fi
  echo "android_demo/core: the JVM tests need JDK 17+ and junit4; install Debian's junit4 package" \
       "or set JUNIT_JAR and HAMCREST_JAR" >&2
  return 0  # the Python side installs without them; the JVM tests then fail saying what is missing
}

build() {
  command -v javac >/dev/null || { echo "javac not found: the JVM tests need JDK 17+" >&2; exit 2; }
  [[ -f "$junit" ]] || { echo "$junit not found: run android_demo/core/jvm.sh deps (Debian's junit4)" >&2; exit 2; }
  rm -rf "$out" && mkdir -p "$out/classes"
  javac -Xlint:all -Werror --release 11 -encoding UTF-8 -cp "$junit" -d "$out/classes" \
    $(find "$here/src/main/java" "$here/src/test/java" -name '*.java' | sort)
}

test_classes() {  # every src/test/java/**/*Test.java as a class name
  (cd "$here/src/test/java" && find . -name '*Test.java' | sort | sed 's|^\./||; s|\.java$||; s|/|.|g')
}

case "${1:-test}" in
  deps) deps ;;
  build) build ;;
  test) build && java -cp "$out/classes:$junit:$hamcrest" dev.deploytool.core.AllTests \
          $(test_classes) ;;
  *) echo "usage: $0 deps|build|test" >&2; exit 2 ;;
esac
