from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops receiving a file once it passes MAX_UPLOAD_BYTES, so an oversize upload is neither held in
    memory nor written to disk in full. The view sees ``request.oversize_uploads`` and answers 413."""

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            oversize = getattr(self.request, "oversize_uploads", [])
            oversize.append(self.file_name)
            self.request.oversize_uploads = oversize
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None
