"""Cloud Run GPU service: turns generation jobs into images in Cloud Storage."""
