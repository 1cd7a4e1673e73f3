#!/usr/bin/env bash
# Puts `memsync` on the user's PATH: a symbolic link in ~/.local/bin to the given executable
# (usually .venv/bin/memsync), so that agents and shells find it from any folder.
#   MEMSYNC_BIN_DIR=DIR   link into DIR instead; MEMSYNC_BIN_DIR=none links nothing
# It never fails an install: a folder it cannot create or write is reported and skipped, and
# a `memsync` there that is not a link (installed some other way) is left alone.
set -u
target=${1:?usage: scripts/link_bin.sh /path/to/.venv/bin/memsync}
say() { echo "memsync: $*" >&2; }

dir=${MEMSYNC_BIN_DIR-}
if [ -z "$dir" ]; then
  if [ -z "${HOME:-}" ] || [ ! -d "$HOME" ]; then
    say "no usable HOME: not linking memsync onto PATH (set MEMSYNC_BIN_DIR to choose a folder)"
    exit 0
  fi
  dir="$HOME/.local/bin"
fi
if [ "$dir" = none ]; then
  say "MEMSYNC_BIN_DIR=none: not linking memsync onto PATH"
  exit 0
fi
if [ ! -x "$target" ]; then
  say "$target is not an executable; nothing linked"
  exit 0
fi
target="$(cd "$(dirname "$target")" && pwd)/$(basename "$target")"
link="$dir/memsync"

if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
  say "cannot write to $dir: not linking memsync onto PATH (set MEMSYNC_BIN_DIR to choose a folder)"
  exit 0
fi
if [ -e "$link" ] && [ ! -L "$link" ]; then
  say "$link exists and is not a link (installed some other way): left as it is"
  exit 0
fi
if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
  say "$link already links to $target"
elif ln -sfn "$target" "$link" 2>/dev/null; then
  say "linked $link -> $target"
else
  say "could not link $link; run $target directly"
  exit 0
fi
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) say "$dir is not on your PATH: add   export PATH=\"$dir:\$PATH\"   to your shell profile" ;;
esac
exit 0
