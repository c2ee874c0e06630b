"""Private object storage.

Objects are never public: ``url()`` always returns a presigned GET valid for a few minutes, and views
hand one out only after their permission check. When ``AWS_S3_PUBLIC_ENDPOINT_URL`` is set, URLs are
signed for that endpoint (the one a browser reaches) while the server keeps talking to the internal
one: in docker-compose, ``minio:9000`` means nothing to a browser. A custom domain would not do: it gives
unsigned URLs.
"""

import logging
import uuid
from functools import cached_property

import boto3
from botocore.config import Config
from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage, storages
from django.urls import reverse
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class PrivateS3Storage(S3Storage):
    default_acl = None
    querystring_auth = True
    file_overwrite = False

    @cached_property
    def _public_signing_client(self):
        endpoint = getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", "") or None
        if not endpoint:
            return None
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region_name,
            config=Config(signature_version=self.signature_version, s3={"addressing_style": self.addressing_style}),
        )

    def url(self, name, parameters=None, expire=None, http_method=None):
        client = self._public_signing_client
        if client is None:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = dict(parameters or {})
        params["Bucket"] = self.bucket_name
        params["Key"] = self._normalize_name(clean_name(name))
        return client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=expire or self.querystring_expire,
            HttpMethod=http_method,
        )


# --- helpers used by services and workers -------------------------------------------------------------
logger = logging.getLogger(__name__)
DOWNLOAD_TTL_SECONDS = 300
_LOCAL_SIGNING_SALT = "medilens.local-download"


class TransientStorageError(Exception):
    """The object store did not answer (network, 5xx, throttling): worth retrying later."""


def object_key(organization_id: int, assessment_id, extension: str) -> str:
    """Keys carry no PHI: the organization and assessment ids and a random name."""
    return f"org/{organization_id}/assessments/{assessment_id}/{uuid.uuid4().hex}.{extension}"


def is_transient(error: BaseException) -> bool:
    try:
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return False
    if isinstance(error, (BotoConnectionError, HTTPClientError, ConnectionError, TimeoutError)):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in {"SlowDown", "RequestTimeout", "ServiceUnavailable"}
    return False


def store(key: str, content) -> str:
    saved = default_storage.save(key, content)
    if saved != key:  # never expected with random names; a different name would orphan the object
        default_storage.delete(saved)
        raise RuntimeError("storage renamed an object key")
    return saved


def delete_quietly(keys) -> None:
    for key in keys:
        try:
            default_storage.delete(key)
        except Exception:  # best effort: the orphan sweep removes what is left
            logger.warning("could not delete object %s; the orphan sweep will", key)


def open_object(key: str):
    try:
        return default_storage.open(key, "rb")
    except Exception as error:
        if is_transient(error):
            raise TransientStorageError(str(type(error).__name__)) from error
        raise


def is_object_store() -> bool:
    return isinstance(storages["default"], S3Storage)


def download_url(key: str, filename: str, content_type: str) -> str:
    """A URL valid for five minutes. S3: presigned for the public endpoint. Local disk (embedded default):
    a signed, expiring link to a view that streams the file after checking the signature."""
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "._- ")[:150] or "download"
    if is_object_store():
        return default_storage.url(
            key,
            parameters={
                "ResponseContentDisposition": f'attachment; filename="{safe}"',
                "ResponseContentType": content_type,
            },
            expire=DOWNLOAD_TTL_SECONDS,
        )
    token = signing.dumps({"k": key, "f": safe, "t": content_type}, salt=_LOCAL_SIGNING_SALT, compress=True)
    return reverse("assessments:signed_download", args=[token])


def read_download_token(token: str) -> dict:
    return signing.loads(token, salt=_LOCAL_SIGNING_SALT, max_age=DOWNLOAD_TTL_SECONDS)
