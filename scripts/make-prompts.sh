#!/usr/bin/env bash
# Generate svar's prompts from prompts/<lang>.txt with espeak-ng (Debian's package) as
# 8 kHz mono 16-bit WAV under prompts/<lang>/. The results are committed, so running
# svar needs no speech synthesis; and no personal data ever goes to a TTS service.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi
for list in prompts/*.txt; do
    lang=$(basename "$list" .txt)
    mkdir -p "prompts/$lang"
    voice=$lang; [ "$lang" = en ] && voice=en-gb
    count=0
    while IFS='|' read -r name text; do
        case "$name" in ''|'#'*) continue ;; esac
        tmp=$(mktemp --suffix=.wav)
        espeak-ng -v "$voice" -s 150 -w "$tmp" "$text"
        sox "$tmp" -r 8000 -c 1 -b 16 "prompts/$lang/$name.wav" norm -3
        rm -f "$tmp"
        count=$((count + 1))
    done < "$list"
    echo "prompts/$lang: $count prompts"
done
