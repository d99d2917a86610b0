#!/usr/bin/env bash
# system-install.sh — preload libsocksify.so into every dynamically linked
# program on this machine (/etc/ld.so.preload), with /etc/socksify/socks.conf
# deciding what is proxied. Undo with scripts/system-uninstall.sh.
#
# A broken /etc/ld.so.preload breaks every program on the machine, so nothing
# is written before the library has been proven to load and to change nothing
# in ordinary programs (with the new preload list and the configuration that
# will apply), and every file is replaced atomically (temporary file + rename).
set -euo pipefail

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [--lib PATH] [--config FILE] [--root DIR] [--launcher PATH] [--dry-run]

Preload libsocksify.so system-wide: add its absolute path to /etc/ld.so.preload
and, with --config, install FILE as /etc/socksify/socks.conf. Run as root.

  --lib PATH       the library to preload. Default: the first of
                   <dir of socksify on PATH>/../lib[/*-linux-gnu]/libsocksify.so,
                   /usr/local/lib[/*-linux-gnu|64]/libsocksify.so,
                   /usr/lib[/*-linux-gnu|64]/libsocksify.so (cmake --install layouts).
  --config FILE    install FILE as /etc/socksify/socks.conf (mode 0644, or 0600
                   when it holds a password). Without it an existing
                   /etc/socksify/socks.conf is left alone; without any
                   configuration the library stays inert (forwards every call).
  --root DIR       operate on DIR/etc instead of /etc (default /). The library
                   path is written as given and checked on the running system.
  --launcher PATH  the socksify launcher used to validate the configuration
                   (default: next to the library, then PATH).
  -n, --dry-run    check everything, print what would be written, change nothing.
  -h, --help       this text.

Before /etc/ld.so.preload is touched: the library must be an absolute path
without blanks or ':', owned by root and writable by root only (so are its
directories), and must load into /bin/true, sh and getent without changing
their exit status or output, both without a configuration and with the one
that will apply; the configuration must validate. Other entries of
ld.so.preload and their order are kept, a second run changes nothing, the
previous file is kept as ld.so.preload.socksify-bak.
Exit status: 0 done (or nothing to do), 1 refused or failed, 2 usage error.
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; echo "Try '$prog --help'." >&2; exit 2; }
note() { echo "$prog: $*"; }
warn() { echo "$prog: warning: $*" >&2; }

root=/ lib="" config="" launcher="" dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --lib|--config|--root|--launcher)
      [ $# -ge 2 ] || usage_error "option '$1' needs an argument"
      case "$1" in
        --lib) lib=$2 ;; --config) config=$2 ;; --root) root=$2 ;; --launcher) launcher=$2 ;;
      esac
      shift 2 ;;
    --lib=*) lib=${1#*=}; shift ;;
    --config=*) config=${1#*=}; shift ;;
    --root=*) root=${1#*=}; shift ;;
    --launcher=*) launcher=${1#*=}; shift ;;
    -n|--dry-run) dry=1; shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

[ -n "$root" ] || usage_error "--root needs a directory"
[ -d "$root" ] || die "--root $root is not a directory"
root=$(cd -- "$root" && pwd -P)
[ "$root" = / ] && prefix="" || prefix=$root
if [ "$(id -u)" -ne 0 ] && [ "$dry" -eq 0 ] && [ -z "$prefix" ]; then
  die "must run as root (it writes /etc/ld.so.preload)"
fi

preload_file=$prefix/etc/ld.so.preload
conf_dir=$prefix/etc/socksify
conf_file=$conf_dir/socks.conf
backup_suffix=.socksify-bak

work=$(mktemp -d "${TMPDIR:-/tmp}/socksify-install.XXXXXX")
chmod 0700 "$work"
tmp_files=()
cleanup() {
  local f
  for f in "${tmp_files[@]+"${tmp_files[@]}"}"; do rm -f -- "$f"; done
  rm -rf -- "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- the library

is_ours() { [ "${1##*/}" = libsocksify.so ]; }

if [ -z "$lib" ]; then
  cands=()
  if l=$(command -v socksify 2>/dev/null) && [ -n "$l" ]; then
    bindir=$(dirname -- "$(readlink -f -- "$l")")
    cands+=("$bindir/libsocksify.so" "$bindir/../lib/libsocksify.so" "$bindir"/../lib/*-linux-gnu/libsocksify.so)
  fi
  cands+=(/usr/local/lib/libsocksify.so /usr/local/lib/*-linux-gnu/libsocksify.so /usr/local/lib64/libsocksify.so
          /usr/lib/*-linux-gnu/libsocksify.so /usr/lib/libsocksify.so /usr/lib64/libsocksify.so)
  for c in "${cands[@]}"; do
    if [ -f "$c" ]; then lib=$c; break; fi
  done
  [ -n "$lib" ] || die "cannot find libsocksify.so (install it with 'cmake --install', or give --lib PATH)"
fi
[ -e "$lib" ] || die "--lib $lib does not exist"
lib=$(readlink -f -- "$lib")
[ -f "$lib" ] || die "$lib is not a regular file"
is_ours "$lib" || die "$lib: the library must be named libsocksify.so (that name is how it is recognised and removed)"
case "$lib" in
  *[[:space:]:]*) die "$lib: ld.so.preload separates entries by blanks and ':'; choose a path without them" ;;
esac
[ "$(head -c 4 -- "$lib" | od -An -c | tr -d ' \n')" = "177ELF" ] || die "$lib is not an ELF file"

# Every program on the machine will map this file: only root may change it or
# any directory above it (a directory writable by others is acceptable only
# with the sticky bit, like /tmp, since the entry below it belongs to root).
p=$lib
read -r uid mode < <(stat -c '%u %a' -- "$p")
[ "$uid" -eq 0 ] || die "$lib is not owned by root; copy it somewhere root owns (cmake --install)"
(( (8#$mode & 8#022) == 0 )) || die "$lib is writable by group or others (mode $mode)"
(( (8#$mode & 8#004) != 0 )) || die "$lib is not readable by every user (mode $mode)"
while [ "$p" != / ]; do
  p=$(dirname -- "$p")
  read -r uid mode < <(stat -c '%u %a' -- "$p")
  [ "$uid" -eq 0 ] || die "$p (above $lib) is not owned by root"
  if (( (8#$mode & 8#022) != 0 )) && (( (8#$mode & 8#1000) == 0 )); then
    die "$p (above $lib) is writable by group or others (mode $mode)"
  fi
  (( (8#$mode & 8#001) != 0 )) || die "$p (above $lib) cannot be searched by every user (mode $mode)"
done

# ---------------------------------------------------------------- the new ld.so.preload

[ ! -L "$preload_file" ] || die "$preload_file is a symbolic link; refusing to replace it"
existed=0
old=""
if [ -e "$preload_file" ]; then
  [ -f "$preload_file" ] || die "$preload_file is not a regular file"
  existed=1
  IFS= read -r -d '' old < "$preload_file" || true
fi

# Rebuild line by line: lines without a libsocksify.so entry stay as they are;
# the first libsocksify.so entry becomes $lib (in place, so the order against
# other entries is kept), later ones are dropped; lines left empty are dropped.
new="" placed=0 others=()
if [ -n "$old" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    IFS=$' \t:' read -r -a raw <<< "$line" || true
    toks=()
    for t in "${raw[@]+"${raw[@]}"}"; do [ -z "$t" ] || toks+=("$t"); done
    hit=0
    for t in "${toks[@]+"${toks[@]}"}"; do is_ours "$t" && hit=1; done
    if [ "$hit" -eq 0 ]; then
      new+="$line"$'\n'
      others+=("${toks[@]+"${toks[@]}"}")
      continue
    fi
    kept=()
    for t in "${toks[@]}"; do
      if is_ours "$t"; then
        if [ "$placed" -eq 0 ]; then kept+=("$lib"); placed=1; fi
        [ "$t" = "$lib" ] || note "replacing the entry $t with $lib"
      else
        kept+=("$t")
        others+=("$t")
      fi
    done
    [ ${#kept[@]} -eq 0 ] || new+="${kept[*]}"$'\n'
  done < <(printf '%s' "$old")
fi
[ "$placed" -eq 1 ] || new+="$lib"$'\n'

# The preload list as the dynamic loader will read it, and the same without us.
IFS=$' \t\n:' read -r -d '' -a raw <<< "$new" || true
with_us=()
for t in "${raw[@]+"${raw[@]}"}"; do [ -z "$t" ] || with_us+=("$t"); done
preload_with="${with_us[*]}"
preload_without="${others[*]+"${others[*]}"}"

# ---------------------------------------------------------------- the configuration

has_password() {  # a password in a proxy URL: scheme://user:password@host
  sed -e 's/\(^\|[[:space:]]\)#.*$//' -- "$1" | grep -Eq '://[^@/[:space:]]*:[^@[:space:]]*@'
}

conf_mode=0644
staged=""
if [ -n "$config" ]; then
  [ -f "$config" ] || die "--config $config is not a readable file"
  [ -r "$config" ] || die "--config $config is not readable"
  staged=$work/socks.conf
  cp -- "$config" "$staged"
  if has_password "$staged"; then
    conf_mode=0600
  fi
  chmod "$conf_mode" "$staged"
  effective_conf=$staged
elif [ -f "$conf_file" ]; then
  effective_conf=$conf_file
else
  effective_conf=""
fi

if [ -z "$launcher" ]; then
  libdir=$(dirname -- "$lib")
  for c in "$libdir/socksify" "$libdir/../bin/socksify" "$libdir/../../bin/socksify"; do
    if [ -x "$c" ]; then launcher=$c; break; fi
  done
  if [ -z "$launcher" ]; then launcher=$(command -v socksify 2>/dev/null || true); fi
fi

# ---------------------------------------------------------------- proofs, before any change

# Runs PROGRAM... with a clean socksify environment (no SOCKSIFY_*, no personal
# configuration) and LD_PRELOAD=$1; records exit status, stdout and stderr.
# The remaining arguments before '--' are extra environment entries.
run_with() {
  local tag=$1 preload=$2
  shift 2
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  mkdir -p "$work/home"
  set +e
  env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG -u SOCKSIFY_CONNECT_TIMEOUT -u SOCKSIFY_BIND \
      -u XDG_CONFIG_HOME HOME="$work/home" LD_PRELOAD="$preload" "${envs[@]+"${envs[@]}"}" \
      timeout 20 "$@" < /dev/null > "$work/$tag.out" 2> "$work/$tag.err"
  echo $? > "$work/$tag.rc"
  set -e
}

# The program must behave the same with and without the library preloaded.
prove_same() {
  local what=$1
  shift
  run_with base "$preload_without" "$@"
  run_with ours "$preload_with" "$@"
  local a cmd=("$@")
  while [ "${cmd[0]}" != -- ]; do cmd=("${cmd[@]:1}"); done
  cmd=("${cmd[@]:1}")
  # Messages name the staged copy of the configuration; show the user's file.
  local shown=${config:-$effective_conf}
  for a in rc out err; do
    if ! cmp -s "$work/base.$a" "$work/ours.$a"; then
      echo "$prog: refusing: with $lib preloaded, '${cmd[*]}' ($what) behaves differently:" >&2
      cmp -s "$work/base.rc" "$work/ours.rc" ||
        echo "  exit status $(cat "$work/base.rc") without it, $(cat "$work/ours.rc") with it" >&2
      cmp -s "$work/base.out" "$work/ours.out" ||
        sed "s|${staged:-/nonexistent/}|$shown|g; s/^/  stdout with it: /" "$work/ours.out" | head -n 5 >&2
      if ! cmp -s "$work/base.err" "$work/ours.err"; then
        sed "s|${staged:-/nonexistent/}|$shown|g; s/^/  stderr with it: /" "$work/ours.err" | head -n 20 >&2
        echo "  (every program on the machine would print this; fix the cause first)" >&2
      fi
      echo "$prog: nothing was changed" >&2
      exit 1
    fi
  done
}

prove_program_set() {
  local what=$1
  shift
  prove_same "$what" "$@" -- /bin/true
  prove_same "$what" "$@" -- /bin/sh -c 'echo socksify-ok'
  if command -v getent > /dev/null 2>&1; then
    # A name lookup makes the library load its configuration (it does so lazily).
    prove_same "$what" "$@" -- getent hosts localhost
  fi
}

# First the library alone: LD_PRELOAD=lib /bin/true exits 0 and prints nothing
# (beyond what the running system's own preload list already prints).
run_with lonebase "" -- /bin/true
run_with lone "$lib" -- /bin/true
if [ "$(cat "$work/lone.rc")" != 0 ] || [ -s "$work/lone.out" ] || ! cmp -s "$work/lonebase.err" "$work/lone.err"; then
  echo "$prog: refusing: LD_PRELOAD=$lib /bin/true exited $(cat "$work/lone.rc") with output:" >&2
  cat "$work/lone.out" "$work/lone.err" | sed 's/^/  /' | head -n 20 >&2
  echo "$prog: nothing was changed" >&2
  exit 1
fi
# Then with the whole new preload list, as every program will see it, without
# a configuration chosen by the environment...
prove_program_set "default configuration lookup"

if [ -n "$effective_conf" ]; then
  validated=0
  launcher_help=""
  if [ -n "$launcher" ]; then launcher_help=$("$launcher" --help 2>&1 < /dev/null || true); fi
  if [[ $launcher_help == *--explain* ]]; then
    set +e
    env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG timeout 30 \
        "$launcher" -c "$effective_conf" --explain 127.0.0.1:1 > "$work/explain.out" 2> "$work/explain.err"
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
      echo "$prog: refusing: the configuration ${config:-$conf_file} is invalid:" >&2
      sed "s|${staged:-/nonexistent/}|${config:-$conf_file}|g; s/^/  /" "$work/explain.err" | head -n 20 >&2
      echo "$prog: nothing was changed" >&2
      exit 1
    fi
    validated=1
  else
    note "the launcher (${launcher:-not found}) has no --explain: validating the configuration through the library alone"
  fi
  # ...and with the configuration that will apply. Whatever the launcher said,
  # the library itself must load this configuration
  # silently (an invalid file would make every program log an error).
  prove_program_set "configuration ${config:-$conf_file}" SOCKSIFY_CONF="$effective_conf" SOCKSIFY_LOG=warn
  [ "$validated" -eq 1 ] && note "configuration ${config:-$conf_file} validated"
else
  note "no configuration ($conf_file does not exist): the library will stay inert until one is installed"
fi

# ---------------------------------------------------------------- changes

# Writes stdin atomically to $1 with mode $2 (temporary file in the same
# directory, flushed, then renamed over the target).
atomic_write() {
  local target=$1 mode=$2 tmp
  tmp=$(mktemp "$(dirname -- "$target")/.${target##*/}.XXXXXX")
  tmp_files+=("$tmp")
  chmod "$mode" "$tmp"
  if [ "$(id -u)" -eq 0 ]; then chown 0:0 "$tmp"; fi
  cat > "$tmp"
  sync -- "$tmp" 2>/dev/null || sync
  mv -f -T -- "$tmp" "$target"
}

backup() {  # keeps the current $1 as $1.socksify-bak (atomically)
  [ -e "$1" ] || return 0
  local tmp
  tmp=$(mktemp "$(dirname -- "$1")/.${1##*/}.bak.XXXXXX")
  tmp_files+=("$tmp")
  cp -p -- "$1" "$tmp"
  mv -f -T -- "$tmp" "$1$backup_suffix"
}

if [ "$dry" -eq 1 ]; then
  note "dry run: $preload_file would be:"
  printf '%s' "$new" | sed 's/^/  /'
  [ -n "$staged" ] && note "dry run: $conf_file would be ${config} (mode $conf_mode)"
  exit 0
fi

# The configuration first: once the library is preloaded it applies at once.
if [ -n "$staged" ]; then
  if [ -f "$conf_file" ] && cmp -s "$staged" "$conf_file" && [ "$(stat -c %a "$conf_file")" = "${conf_mode#0}" ]; then
    note "$conf_file is already up to date"
  else
    mkdir -p "$conf_dir"
    chmod 0755 "$conf_dir"
    backup "$conf_file"
    atomic_write "$conf_file" "$conf_mode" < "$staged"
    note "installed $config as $conf_file (mode $conf_mode)"
  fi
  if [ "$conf_mode" = 0600 ]; then
    warn "$config holds a password in a proxy URL, so $conf_file is readable by root only (0600)." \
         "Programs run by other users cannot read it: they are not proxied, and the library reports" \
         "the unreadable file on their stderr. For a machine with other users, keep the password out" \
         "of the file ('password-file PATH' with a file readable by the users who need it, see" \
         "socks.conf(5)) and install it again."
  fi
fi

if [ "$existed" -eq 1 ] && [ "$new" = "$old" ]; then
  note "$preload_file already preloads $lib; nothing to change"
  exit 0
fi

mkdir -p "$prefix/etc"
backup "$preload_file"
printf '%s' "$new" | atomic_write "$preload_file" 0644
note "added $lib to $preload_file"

# On the live system, every new process now preloads the library: check one.
# Should that fail, restore with shell built-ins only (no new process needed).
if [ -z "$prefix" ]; then
  set +e
  out=$(/bin/sh -c 'echo socksify-ok' 2>&1 < /dev/null)
  rc=$?
  set -e
  if [ "$rc" -ne 0 ] || [ "$out" != socksify-ok ]; then
    printf '%s' "$old" > "$preload_file"
    echo "$prog: programs failed after the change (exit $rc: $out); $preload_file restored" >&2
    exit 1
  fi
fi
note "done: new programs preload $lib${effective_conf:+ and read $conf_file}; undo with system-uninstall.sh"
