FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# A throwaway key: settings refuse a placeholder with DEBUG off, and nothing is signed at build time.
RUN DEBUG=false SECRET_KEY="$(python -c "import secrets; print(secrets.token_urlsafe(50))")" python manage.py collectstatic --noinput
EXPOSE 8000
# uvicorn with the project's options (watchparty/serve.py, as ./dev serve): the frame limit from
# WEBSOCKET_MAX_FRAME_BYTES, proxy headers read only by the app, per TRUSTED_PROXY_COUNT.
CMD ["python", "-m", "watchparty.serve", "0.0.0.0:8000"]
