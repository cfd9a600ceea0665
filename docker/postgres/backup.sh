#!/bin/sh
# Nightly pg_dump (custom format, compressed) at 02:30 container time; keeps BACKUP_KEEP_DAYS days.
# Restore: pg_restore --clean --if-exists -d videodolmetschen /backups/videodolmetschen-<stamp>.dump
set -eu
KEEP=${BACKUP_KEEP_DAYS:-14}
while true; do
  now=$(date +%s)
  next=$(date -d "$(date +%F) 02:30" +%s)
  [ "$next" -le "$now" ] && next=$((next + 86400))
  sleep $((next - now))
  stamp=$(date +%Y%m%dT%H%M)
  if pg_dump --format=custom --compress=6 --file="/backups/videodolmetschen-$stamp.dump.part"; then
    mv "/backups/videodolmetschen-$stamp.dump.part" "/backups/videodolmetschen-$stamp.dump"
    echo "backup: wrote videodolmetschen-$stamp.dump"
  else
    echo "backup: pg_dump FAILED" >&2
  fi
  find /backups -name 'videodolmetschen-*.dump' -mtime "+$KEEP" -delete
done
