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

# Music on hold: a quiet plucked melody (C major arpeggios, 16 s), made by sox, looped by
# svar while a caller is on hold.
tmpdir=$(mktemp -d)
i=0
for note in C4 E4 G4 C5 G4 E4 A3 C4 E4 A4 E4 C4 F3 A3 C4 F4 C4 A3 G3 B3 D4 G4 D4 B3; do
    sox -n -r 8000 -c 1 -b 16 "$tmpdir/$(printf %03d $i).wav" synth 0.66 pluck "$note" vol 0.5
    i=$((i + 1))
done
sox "$tmpdir"/*.wav prompts/music-on-hold.wav norm -12
rm -rf "$tmpdir"
echo "prompts/music-on-hold.wav"
