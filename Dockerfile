FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# A throwaway key: settings refuse a placeholder with DEBUG off, and nothing is signed at build time.
RUN DEBUG=false SECRET_KEY="$(python -c "import secrets; print(secrets.token_urlsafe(50))")" python manage.py collectstatic --noinput
EXPOSE 8000
# --ws-max-size: frames over the protocol's limit are refused (1009) from their header, never buffered.
CMD ["sh", "-c", "exec uvicorn watchparty.asgi:application --host 0.0.0.0 --port 8000 --lifespan off --ws-max-size ${WEBSOCKET_MAX_FRAME_BYTES:-16384}"]
