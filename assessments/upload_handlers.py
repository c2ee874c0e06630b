from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops receiving a file once it passes MAX_UPLOAD_BYTES, so an oversize upload is neither held in
    memory nor written to disk in full. The view sees ``request.oversize_uploads`` and answers 413.

    The files of one request together may not pass MAX_REQUEST_UPLOAD_BYTES: past that, the rest of the
    request is read and discarded (nothing more is spooled) and the view sees
    ``request.upload_over_request_limit`` and answers 413."""

    def __init__(self, request=None):
        super().__init__(request)
        self.request_received = 0

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        self.request_received += len(raw_data)
        if self.request_received > settings.MAX_REQUEST_UPLOAD_BYTES:
            self.request.upload_over_request_limit = True
            raise StopUpload(connection_reset=False)
        if self.received > settings.MAX_UPLOAD_BYTES:
            oversize = getattr(self.request, "oversize_uploads", [])
            oversize.append(self.file_name)
            self.request.oversize_uploads = oversize
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None
