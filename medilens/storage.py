"""Private object storage.

Objects are never public: ``url()`` always returns a presigned GET valid for a few minutes, and views
hand one out only after their permission check. When ``AWS_S3_PUBLIC_ENDPOINT_URL`` is set, URLs are
signed for that endpoint (the one a browser reaches) while the server keeps talking to the internal
one: in docker-compose, ``minio:9000`` means nothing to a browser. A custom domain would not do: it gives
unsigned URLs.
"""

import hashlib
import logging
import secrets
import time
import uuid
from functools import cached_property

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.cache import cache
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


def download_url(key: str, filename: str, content_type: str, *, issued_to=None) -> str:
    """A URL valid for five minutes. S3: presigned for the public endpoint. Local disk (embedded default):
    a link to a view that streams the file, carrying an opaque token (see issue_download_token).
    ``filename`` is the display name, never the uploaded one."""
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
    token = issue_download_token(key=key, filename=safe, content_type=content_type, issued_to=issued_to)
    return reverse("assessments:signed_download", args=[token])


# --- opaque download tokens (embedded default) ---------------------------------------------------------
# A random id that means nothing by itself: what it opens (storage key, name, type, for whom, since when)
# stays on the server, in the cache, under a hash of the token (the cache never holds the credential).
# The entry outlives the link by an hour so an expired link says "expired" rather than "no such link".
_TOKEN_ENTRY_GRACE_SECONDS = 3600


class UnknownDownload(Exception):
    """No such link, or not for this user."""


class DownloadExpired(UnknownDownload):
    pass


def _token_cache_key(token: str) -> str:
    return "download-token:" + hashlib.sha256(token.encode()).hexdigest()


def _user_id(actor) -> int | None:
    """A member's links open only in their own session; an API client's open without one (its system
    fetches them)."""
    from django.contrib.auth import get_user_model

    if isinstance(actor, get_user_model()) and actor.pk is not None:
        return actor.pk
    return None


def issue_download_token(*, key: str, filename: str, content_type: str, issued_to=None) -> str:
    token = secrets.token_urlsafe(32)
    entry = {"k": key, "f": filename, "t": content_type, "u": _user_id(issued_to), "i": time.time()}
    cache.set(_token_cache_key(token), entry, timeout=DOWNLOAD_TTL_SECONDS + _TOKEN_ENTRY_GRACE_SECONDS)
    return token


def read_download_token(token: str, *, user=None) -> dict:
    """What the token opens: {"k": storage key, "f": file name, "t": content type}. Raises UnknownDownload
    or DownloadExpired."""
    if not token or len(token) > 100:
        raise UnknownDownload
    entry = cache.get(_token_cache_key(token))
    if not isinstance(entry, dict):
        raise UnknownDownload
    if entry.get("u") is not None and entry["u"] != getattr(user, "pk", None):
        raise UnknownDownload
    if time.time() > entry["i"] + DOWNLOAD_TTL_SECONDS:
        raise DownloadExpired
    return entry
