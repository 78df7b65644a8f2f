FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY config ./config
RUN pip install --no-cache-dir .
# Outside compose too, the image runs as production: it refuses to start with the dev
# SECRET_KEY or NOTIFY_TOKEN, or with short ones, or without ENCRYPTION_KEYS, and says why.
ENV ENVIRONMENT=production
# Attachments' contents; a volume mounted here starts with this folder's owner (nobody).
ENV BLOB_STORE_DIR=/data/blobs
RUN mkdir -p /data/blobs && chown nobody /data/blobs
USER nobody
CMD ["ticketflow", "intake"]
