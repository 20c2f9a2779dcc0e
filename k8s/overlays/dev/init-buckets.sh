#!/bin/sh
# One-shot MinIO set-up for docker-compose.yml (service `minio-init`, image minio/mc), idempotent:
#   - one bucket per service: <S3_BUCKET>-<service> for each name in FORGE_SERVICES;
#   - the platform's own S3 user (S3_ACCESS_KEY / S3_SECRET_KEY) with access to those buckets only,
#     so the services never hold the MinIO root credentials.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
: "${S3_BUCKET:?}" "${FORGE_SERVICES:?}"
endpoint="${MINIO_URL:-http://minio:9000}"
export MC_CONFIG_DIR=/tmp/.mc

mc alias set forge "$endpoint" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

for service in $FORGE_SERVICES; do
  mc mb --ignore-existing "forge/${S3_BUCKET}-${service}"
  mc anonymous set none "forge/${S3_BUCKET}-${service}" >/dev/null
done

# Shell built-ins only below (printf, case): the mc image has few tools besides mc.
policy=/tmp/forge-services-policy.json
printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::%s-*","arn:aws:s3:::%s-*/*"]}]}\n' \
  "$S3_BUCKET" "$S3_BUCKET" > "$policy"
mc admin policy create forge forge-services "$policy"
mc admin user add forge "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
case "$(mc admin user info forge "$S3_ACCESS_KEY")" in
  *forge-services*) ;;
  *) mc admin policy attach forge forge-services --user "$S3_ACCESS_KEY" ;;
esac
echo "minio-init: buckets and the platform's S3 user are ready"
