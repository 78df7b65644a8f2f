FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY config ./config
RUN pip install --no-cache-dir .
USER nobody
CMD ["ticketflow", "intake"]
