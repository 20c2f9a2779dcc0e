#!/usr/bin/env bash
# Debian packages some services call at run time (libmagic, ExifTool, mat2, espeak-ng, ffmpeg,
# Pango for PDF reports, git). Installs only what is missing, and only where apt-get can run.
set -euo pipefail
declare -A probe=(
  [libmagic1]="/usr/lib/x86_64-linux-gnu/libmagic.so.1 /usr/lib/aarch64-linux-gnu/libmagic.so.1"
  [libimage-exiftool-perl]="/usr/bin/exiftool"
  # ExifTool reads the compressed parts of Office files (DOCX, XLSX, PPTX) only with Archive::Zip.
  [libarchive-zip-perl]="/usr/share/perl5/Archive/Zip.pm"
  [mat2]="/usr/bin/mat2"
  [espeak-ng]="/usr/bin/espeak-ng"
  [ffmpeg]="/usr/bin/ffmpeg"
  [sox]="/usr/bin/sox"
  [poppler-utils]="/usr/bin/pdftotext"
  [libpango-1.0-0]="/usr/lib/x86_64-linux-gnu/libpango-1.0.so.0 /usr/lib/aarch64-linux-gnu/libpango-1.0.so.0"
  [libpangoft2-1.0-0]="/usr/lib/x86_64-linux-gnu/libpangoft2-1.0.so.0 /usr/lib/aarch64-linux-gnu/libpangoft2-1.0.so.0"
  [git]="/usr/bin/git"
)
missing=()
for pkg in "${!probe[@]}"; do
  found=no
  for path in ${probe[$pkg]}; do [ -e "$path" ] && found=yes; done
  [ "$found" = yes ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${missing[*]} and no apt-get here; install them by hand" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
