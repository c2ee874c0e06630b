"""https endpoints: the connection goes to the checked address while TLS names the endpoint's host (SNI and
certificate check), and a certificate that does not verify is a failed attempt, never ignored."""

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks import guard, transport


def _certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path):
    cert_path, key_path = _certificate(tmp_path)
    seen = {"sni": [], "hosts": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["hosts"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert_path, seen
    server.shutdown()
    server.server_close()


def test_tls_names_the_host_while_connecting_to_the_checked_address(tls_receiver, settings):
    port, cert_path, seen = tls_receiver
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    target = guard.resolve(f"https://localhost:{port}/hooks")
    assert target.address == "127.0.0.1"

    # The receiver's certificate is not one the system trusts: the attempt fails, nothing is sent.
    refused = transport.post(target, b"{}", {"Content-Type": "application/json"})
    assert refused.status_code is None and "TLS" in refused.error and refused.retryable
    assert seen["hosts"] == [] and seen["sni"][-1] == "localhost"

    settings.WEBHOOK_CA_BUNDLE = str(cert_path)  # a CA the operator chose to trust
    accepted = transport.post(target, b"{}", {"Content-Type": "application/json"})
    assert accepted.status_code == 204 and accepted.succeeded
    assert seen["sni"][-1] == "localhost" and seen["hosts"] == [f"localhost:{port}"]
