"""How segmad's processes run: web apps under gunicorn, logs as JSON lines."""
