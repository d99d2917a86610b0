#!/usr/bin/env bash
# system-uninstall.sh — undo scripts/system-install.sh: remove libsocksify.so
# from /etc/ld.so.preload (atomically, every other entry kept in order) and,
# with --purge, /etc/socksify/socks.conf.
set -euo pipefail

prog=${0##*/}

usage() {
  cat <<EOF
Usage: $prog [--lib PATH] [--purge] [--root DIR] [--dry-run]

Stop preloading libsocksify.so system-wide: remove its entries from
/etc/ld.so.preload. Run as root. Programs started afterwards run without it;
running programs keep it until they exit.

  --lib PATH     remove only this entry (default: every entry whose file name
                 is libsocksify.so, wherever it lives).
  --purge        also remove /etc/socksify/socks.conf (and its backup, and the
                 directory when it is left empty). Default: keep the configuration.
  --root DIR     operate on DIR/etc instead of /etc (default /).
  -n, --dry-run  print what would be written, change nothing.
  -h, --help     this text.

The file is replaced atomically (temporary file + rename); when no entry is
left it is removed. The previous file is kept as ld.so.preload.socksify-bak.
Exit status: 0 done (or nothing to do), 1 failed, 2 usage error.
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; echo "Try '$prog --help'." >&2; exit 2; }
note() { echo "$prog: $*"; }

root=/ lib="" purge=0 dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --lib|--root)
      [ $# -ge 2 ] || usage_error "option '$1' needs an argument"
      if [ "$1" = --lib ]; then lib=$2; else root=$2; fi
      shift 2 ;;
    --lib=*) lib=${1#*=}; shift ;;
    --root=*) root=${1#*=}; shift ;;
    --purge) purge=1; shift ;;
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
if [ -n "$lib" ]; then
  case "$lib" in /*) ;; *) usage_error "--lib needs an absolute path" ;; esac
  [ -e "$lib" ] && lib_real=$(readlink -f -- "$lib") || lib_real=$lib
fi

preload_file=$prefix/etc/ld.so.preload
conf_dir=$prefix/etc/socksify
conf_file=$conf_dir/socks.conf
backup_suffix=.socksify-bak

tmp_files=()
cleanup() {
  local f
  for f in "${tmp_files[@]+"${tmp_files[@]}"}"; do rm -f -- "$f"; done
}
trap cleanup EXIT

is_ours() {
  if [ -n "$lib" ]; then
    [ "$1" = "$lib" ] || [ "$1" = "$lib_real" ]
  else
    [ "${1##*/}" = libsocksify.so ]
  fi
}

[ ! -L "$preload_file" ] || die "$preload_file is a symbolic link; refusing to replace it"

changed=0
if [ -e "$preload_file" ]; then
  [ -f "$preload_file" ] || die "$preload_file is not a regular file"
  old=""
  IFS= read -r -d '' old < "$preload_file" || true
  # Lines without our entry stay exactly as they are; a line that also names
  # other libraries keeps them, in order.
  new="" removed=() left=0
  while IFS= read -r line || [ -n "$line" ]; do
    IFS=$' \t:' read -r -a raw <<< "$line" || true
    toks=() hit=0
    for t in "${raw[@]+"${raw[@]}"}"; do
      [ -n "$t" ] || continue
      toks+=("$t")
      is_ours "$t" && hit=1
    done
    if [ "$hit" -eq 0 ]; then
      new+="$line"$'\n'
      left=$((left + ${#toks[@]}))
      continue
    fi
    kept=()
    for t in "${toks[@]}"; do
      if is_ours "$t"; then removed+=("$t"); else kept+=("$t"); fi
    done
    if [ ${#kept[@]} -gt 0 ]; then
      new+="${kept[*]}"$'\n'
      left=$((left + ${#kept[@]}))
    fi
  done < <(printf '%s' "$old")

  if [ ${#removed[@]} -eq 0 ]; then
    note "$preload_file has no ${lib:-libsocksify.so} entry; nothing to remove"
  elif [ "$dry" -eq 1 ]; then
    if [ "$left" -eq 0 ]; then
      note "dry run: would remove ${removed[*]} and delete the then empty $preload_file"
    else
      note "dry run: would remove ${removed[*]}; $preload_file would be:"
      printf '%s' "$new" | sed 's/^/  /'
    fi
  else
    dir=$(dirname -- "$preload_file")
    bak=$(mktemp "$dir/.ld.so.preload.bak.XXXXXX")
    tmp_files+=("$bak")
    cp -p -- "$preload_file" "$bak"
    mv -f -T -- "$bak" "$preload_file$backup_suffix"
    if [ "$left" -eq 0 ]; then
      # Nothing else is preloaded: an absent file is what the system had before.
      rm -f -- "$preload_file"
      note "removed ${removed[*]}; $preload_file had no other entry and is deleted"
    else
      tmp=$(mktemp "$dir/.ld.so.preload.XXXXXX")
      tmp_files+=("$tmp")
      chmod 0644 "$tmp"
      if [ "$(id -u)" -eq 0 ]; then chown 0:0 "$tmp"; fi
      printf '%s' "$new" > "$tmp"
      sync -- "$tmp" 2>/dev/null || sync
      mv -f -T -- "$tmp" "$preload_file"
      note "removed ${removed[*]} from $preload_file (other entries kept)"
    fi
    note "previous $preload_file kept as $preload_file$backup_suffix"
    changed=1
  fi
else
  note "$preload_file does not exist; nothing to remove"
fi

if [ "$purge" -eq 1 ]; then
  if [ -e "$conf_file" ] || [ -e "$conf_file$backup_suffix" ]; then
    if [ "$dry" -eq 1 ]; then
      note "dry run: would remove $conf_file"
    else
      rm -f -- "$conf_file" "$conf_file$backup_suffix"
      rmdir -- "$conf_dir" 2>/dev/null || true
      note "removed $conf_file"
    fi
  else
    note "$conf_file does not exist"
  fi
elif [ -e "$conf_file" ]; then
  note "kept $conf_file (use --purge to remove it)"
fi
[ "$changed" -eq 0 ] || note "done: programs started from now on run without libsocksify.so"
