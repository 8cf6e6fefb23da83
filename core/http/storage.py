from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; ES module imports are rewritten to the hashed names too,
    so a deploy never mixes old and new modules in one page."""

    support_js_module_import_aggregation = True
