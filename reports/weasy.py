"""WeasyPrint, imported without its side effect on Pillow.

``weasyprint.images`` sets ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` for the whole process when it is
imported. Our upload checks (assessments/uploads.py and the modalities' image readers) rely on Pillow
refusing a truncated PNG or JPEG, so once a web process had rendered one report it would accept truncated
uploads. Every import of WeasyPrint in MediLens goes through here, which turns the flag off again (Pillow's
default); the images a report embeds are ours (explanation images and charts), never a truncated upload.
"""

from PIL import ImageFile
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

ImageFile.LOAD_TRUNCATED_IMAGES = False

__all__ = ["HTML", "URLFetcher", "URLFetcherResponse"]
