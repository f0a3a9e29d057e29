"""Fake credentials of many kinds, and look-alikes that are not secrets, made fresh for each test run.

Nothing here is a literal credential: every value is generated from random characters at run time,
so this file itself passes the scan of the repository. Each seed says the file and line it is
written to, and the gitleaks rule expected to report it.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

UPPER = string.ascii_uppercase
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Seed:
    kind: str
    path: str  # inside the scanned folder
    text: str  # the whole file
    line: int  # where the secret is, 1-based
    rule: str | None = None  # the gitleaks rule expected; None: any rule will do


def _file(kind: str, path: str, lines: list[str], marker: str, rule: str | None = None) -> Seed:
    line = next(i for i, text in enumerate(lines, 1) if marker in text)
    return Seed(kind, path, "\n".join(lines) + "\n", line, rule)


def credentials() -> list[Seed]:
    aws_id = "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    github = "ghp_" + rand(ALNUM, 36)
    gitlab = "glpat-" + rand(ALNUM + "_-", 20)
    slack = f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(ALNUM, 24)}"
    stripe = "sk_live_" + rand(ALNUM, 24)
    google = "AIza" + rand(ALNUM + "_-", 35)
    npm = "npm_" + rand(ALNUM, 36)
    generic = rand(ALNUM, 32)
    db_password = rand(ALNUM, 18)
    plain_password = "Blue" + rand(string.ascii_lowercase, 6) + rand(string.digits, 3) + "!"
    age_key = "AGE-SECRET-KEY-1" + rand(BECH32.upper(), 58)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(
        json.dumps({"sub": rand(string.digits, 8), "name": "orders", "iat": 1700000000}).encode()
    )
    jwt = f"{header}.{payload}.{b64url(secrets.token_bytes(32))}"
    private_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    encoded_github = base64.b64encode(("ghp_" + rand(ALNUM, 36)).encode()).decode()
    env_api_key = rand(ALNUM, 32)
    jdbc_password = rand(ALNUM, 16)
    hmac_key = rand(ALNUM + "+/", 40)
    script_password = "Green" + rand(string.ascii_lowercase, 5) + rand(string.digits, 2) + "#"
    return [
        _file(
            "AWS access key",
            "infra/aws.env",
            ["# credentials for the backup bucket", f"AWS_ACCESS_KEY_ID={aws_id}", "AWS_REGION=eu-west-1"],
            aws_id,
            "aws-access-token",
        ),
        _file(
            "GitHub token",
            "apps/orders/deploy/job.yaml",
            ["env:", "  - name: GH_TOKEN", f"    value: {github}"],
            github,
            "github-pat",
        ),
        _file(
            "GitLab token",
            "scripts/mirror.sh",
            ["#!/bin/sh", f'curl -H "PRIVATE-TOKEN: {gitlab}" https://gitlab.example.org/api/v4/projects'],
            gitlab,
            "gitlab-pat",
        ),
        _file(
            "Slack token", "config/alerts.yaml", ["slack:", f"  bot_token: {slack}"], slack, "slack-bot-token"
        ),
        _file(
            "Stripe key",
            "apps/inventory/settings.py",
            ["# payments", f'STRIPE_KEY = "{stripe}"'],
            stripe,
            "stripe-access-token",
        ),
        _file(
            "Google API key", "docs/maps.md", ["Use the key:", "", f"    key={google}"], google, "gcp-api-key"
        ),
        _file(
            "npm token",
            "apps/web/.npmrc",
            [f"//registry.npmjs.org/:_authToken={npm}"],
            npm,
            "npm-access-token",
        ),
        _file(
            "age secret key", "keys/age.txt", ["# created: 2026-01-01", age_key], age_key, "age-secret-key"
        ),
        _file("JWT", "tests/fixtures/session.json", ["{", f'  "session": "{jwt}"', "}"], jwt, "jwt"),
        _file(
            "private key",
            "infra/tls/server.key",
            private_pem.strip().splitlines(),
            "BEGIN PRIVATE KEY",
            "private-key",
        ),
        _file(
            "generic API key",
            "environments/dev/apps/orders/config.yaml",
            ["orders:", f'  api_key: "{generic}"', "  timeout: 5s"],
            generic,
            "generic-api-key",
        ),
        _file(
            "URL credentials",
            "environments/staging/apps/orders/db.yaml",
            ["database:", f"  url: postgres://orders:{db_password}@db.shop.svc:5432/orders"],
            db_password,
            "meridian-url-credentials",
        ),
        _file(
            "plain password",
            "environments/prod/apps/inventory/app.env",
            ["LOG_LEVEL=info", f"DB_PASSWORD={plain_password}"],
            plain_password,
            "meridian-plain-password",
        ),
        _file(
            "API key in a Deployment's env value",
            "environments/prod/apps/orders/payments.yaml",
            [
                "spec:",
                "  template:",
                "    spec:",
                "      containers:",
                "        - name: orders",
                "          env:",
                "            - name: LOG_LEVEL",
                "              value: info",
                "            - name: PAYMENTS_API_KEY",
                f'              value: "{env_api_key}"',
            ],
            # The rule matches the name and the value together; gitleaks reports where that starts.
            "PAYMENTS_API_KEY",
            "meridian-env-value-credential",
        ),
        _file(
            "JDBC URL with a password",
            "apps/reports/src/main/resources/application.properties",
            [
                "spring.datasource.driver-class-name=org.postgresql.Driver",
                "spring.datasource.url=jdbc:postgresql://db.shop.svc:5432/reports"
                f"?user=reports&password={jdbc_password}&ssl=true",
            ],
            jdbc_password,
            "meridian-jdbc-password",
        ),
        _file(
            "HMAC key in a Go byte slice",
            "apps/orders/internal/signing/keys.go",
            [
                "package signing",
                "",
                'import "crypto/hmac"',
                "",
                f'var signingKey = []byte("{hmac_key}")',
                "",
                "func mac() { _ = hmac.New }",
            ],
            hmac_key,
            "meridian-go-byte-key",
        ),
        _file(
            "password in a Python script",
            "scripts/load_fixtures.py",
            [
                "import psycopg",
                "",
                f'password = "{script_password}"',
                'conn = psycopg.connect(host="db", user="loader", password=password)',
            ],
            script_password,
            "meridian-code-password",
        ),
        _file(
            "base64 token in a Secret",
            "environments/dev/apps/orders/secret.yaml",
            [
                "apiVersion: v1",
                "kind: Secret",
                "metadata:",
                "  name: gh",
                "data:",
                f"  token: {encoded_github}",
            ],
            encoded_github,
        ),
    ]


def decoys() -> list[Seed]:
    """Values a careless scanner reports, and ours must not."""
    digest = rand(HEX, 64)
    commit = rand(HEX, 40)
    ed_public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orders.meridian.dev")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(random.getrandbits(64))
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    pulumi_secure = "v1:" + rand(ALNUM, 16) + ":" + base64.b64encode(secrets.token_bytes(48)).decode()
    sealed = "AgB" + base64.b64encode(secrets.token_bytes(400)).decode()
    sops = (
        f"ENC[AES256_GCM,data:{base64.b64encode(secrets.token_bytes(18)).decode()},"
        f"iv:{base64.b64encode(secrets.token_bytes(32)).decode()},"
        f"tag:{base64.b64encode(secrets.token_bytes(16)).decode()},type:str]"
    )
    recipient = "age1" + rand(BECH32, 58)
    return [
        Seed(
            "Pulumi secure value",
            "Pulumi.prod.yaml",
            f"config:\n  meridian:dbPassword:\n    secure: {pulumi_secure}\n"
            f"  meridian:apiKey:\n    secure: {pulumi_secure}\n",
            3,
        ),
        Seed(
            "SealedSecret",
            "environments/prod/apps/orders/sealed.yaml",
            "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: orders-db\n"
            f"spec:\n  encryptedData:\n    password: {sealed}\n    api_key: {sealed}\n",
            7,
        ),
        Seed(
            "SOPS file",
            "environments/prod/secrets.enc.yaml",
            f"password: {sops}\napi_token: {sops}\nsops:\n  age:\n    - recipient: {recipient}\n"
            f"  mac: {sops}\n  version: 3.9.0\n",
            1,
        ),
        Seed(
            "image digests",
            "environments/prod/apps/orders/version.yaml",
            f"image: registry.meridian.dev/apps/orders:1.4.2@sha256:{digest}\n"
            f'digest_key: "sha256:{digest}"\nauth_digest: sha256:{digest}\n',
            1,
        ),
        Seed(
            "commit SHAs",
            ".github/workflows/build.yaml",
            f"steps:\n  - uses: actions/checkout@{commit}\n  - run: echo build\n"
            f"    env:\n      SOURCE_COMMIT_KEY: {commit}\n      token_ref: {commit}\n",
            2,
        ),
        Seed("public keys", "keys/deploy.pub", f"{ed_public} deploy@meridian\n", 1),
        Seed("public key PEM", "keys/signing.pem", public_pem, 1),
        Seed("certificate", "infra/tls/ca.crt", certificate, 1),
        Seed(
            "placeholders",
            "environments/dev/apps/orders/example.env",
            "DB_PASSWORD=changeme\nAPI_KEY=<your-api-key>\nGITHUB_TOKEN=${GITHUB_TOKEN}\n"
            'SECRET_KEY="{{ .Values.secretKey }}"\nAUTH_TOKEN=REPLACE_ME\n'
            "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\npassword: xxxxxxxxxxxx\n"
            "DATABASE_URL=postgres://user:password@db.example.org:5432/app\n",
            1,
        ),
        Seed(
            "Slack's documented placeholder webhook",
            "docs/alerting.md",
            "Route alerts to Slack:\n\n"
            "    slack_api_url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\n",
            3,
        ),
        Seed(
            "Helm checksum annotations beside an image digest",
            "build/prod/platform/monitoring.yaml",
            "spec:\n  template:\n    metadata:\n      annotations:\n"
            f"        checksum/config: {rand(HEX, 64)}\n        checksum/secret: {rand(HEX, 64)}\n"
            f'        "checksum/tls-secret": "{rand(HEX, 40)}"\n'
            "    spec:\n      containers:\n"
            f"        - image: quay.io/prometheus/prometheus:v3.1.0@sha256:{digest}\n",
            5,
        ),
        Seed(
            "code that passes a password along",
            "scripts/connect.py",
            'def connect(password: str):\n    return psycopg.connect(password=password, host="db")\n'
            'password = os.environ["DB_PASSWORD"]\nprompt = f"password = {password!r}"\n',
            1,
        ),
        Seed(
            "Go byte slices that hold no key",
            "apps/orders/internal/api/body.go",
            'package api\n\nvar greeting = []byte("hello from the orders service")\n'
            'var keyPrefix = []byte("orders/")\n',
            3,
        ),
        Seed(
            "references",
            "environments/dev/apps/orders/deployment.yaml",
            "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: orders-db\n"
            "        key: password\n  - name: DB_PASSWORD_FILE\n"
            "    value: /var/run/secrets/orders-db/password\n",
            1,
        ),
    ]
