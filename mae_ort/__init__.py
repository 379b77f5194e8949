"""mae-ort."""
