"""The Lambda function's encrypted mode (issue #15; docs/lambda.md, "Encrypted at rest"), on
loopback like test_function.py, whose LambdaCase checks every log line and answer of every
invocation in tearDown (here also for the keyhash and the keys derived from the vault password).

A function whose secret holds only the vault's keyhash (computed here from the fake server's salt
and the password, and checked against the keyhash the server keeps) and OBSYNC_ENCRYPTED=true
backs up the vault's ciphertext, complete and then incremental: every object is under e/, and no
key, body or metadata in S3 (nor the state in DynamoDB) holds a plaintext name or content of the
corpus; neither the function's environment nor its logs or answers hold the vault password or
anything that can decrypt. A request asking for "encrypted": false is refused (403 over HTTP);
the same secret without OBSYNC_ENCRYPTED fails the vault with a config error and writes nothing;
the mode travels in the work messages of the queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import unicodedata
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import esm_driver  # noqa: E402
import loopback  # noqa: E402
from test_function import (  # noqa: E402
    ACCOUNT_PASSWORD, EMAIL, TOTP_SECRET, VAULT_PASSWORD, LambdaCase, apigw_v1, function_url, write,
)
from test_scale import QueueCase  # noqa: E402

VAULT = "Notes"  # a name the secrets of LambdaCase know
# Names and contents that no ciphertext, hex or hash contains by chance.
SECRET_NAMES = ["Zanzibar", "Quetzalcoatl", "Marmalade", "treasure-map", "canvasboard",
                "Okapi-folder", "Xerxes"]
SECRET_CONTENTS = ["under the old oak tree", "PLUTONIUM-RECIPE", "xylophone sonata",
                   "moved the treasure", "the heron at dawn"]


def make_secret_corpus(folder: Path) -> Path:
    write(folder / "Zanzibar/Quetzalcoatl.md", "# Treasure\nunder the old oak tree\n")
    write(folder / "Zanzibar/deeper/Marmalade recipe.md", "PLUTONIUM-RECIPE: 3 oranges")
    write(folder / "treasure-map.canvasboard", '{"song":"xylophone sonata"}')
    write(folder / "Empty Marmalade.md", "")
    (folder / "Okapi-folder").mkdir(parents=True)
    return folder


def entries_of(corpus: Path) -> int:
    """Files and folders of a corpus: one object each in the encrypted layout."""
    return sum(1 for _ in corpus.rglob("*"))


def files_of(corpus: Path) -> int:
    """Files of a corpus: what a report counts (folders are not)."""
    return sum(1 for p in corpus.rglob("*") if p.is_file())


# ------------------------------------------------------- the vault's keys, as Obsidian derives them


def _nfkc(text: str) -> bytes:
    return unicodedata.normalize("NFKC", text).encode()


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """RFC 5869, one block (32 bytes); an empty salt is HashLen zeros."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


class VaultKeys:
    """What a vault password derives (protocol reference §3.2, encryption version 2/3): the raw
    scrypt key, the keys that decrypt (content, and the SIV pair of the paths), and the keyhash
    the server checks, which decrypts nothing."""

    def __init__(self, password: str, salt: str):
        self.raw = hashlib.scrypt(_nfkc(password), salt=_nfkc(salt), n=32768, r=8, p=1,
                                  maxmem=128 * 1024 * 1024, dklen=32)
        self.content = _hkdf_sha256(self.raw, b"", b"ObsidianAesGcm")
        self.siv_mac = _hkdf_sha256(self.raw, salt.encode(), b"ObsidianAesSivMac")
        self.siv_enc = _hkdf_sha256(self.raw, salt.encode(), b"ObsidianAesSivEnc")
        self.keyhash = _hkdf_sha256(self.raw, salt.encode(), b"ObsidianKeyHash").hex()

    def decrypting(self) -> list[str]:
        """Every key that can decrypt, as the texts a log line or a variable could show."""
        out = []
        for key in (self.raw, self.content, self.siv_mac, self.siv_enc):
            out += [key.hex(), key.hex().upper(), base64.b64encode(key).decode(),
                    base64.urlsafe_b64encode(key).decode().rstrip("=")]
        return out


def vault_row(fake: loopback.FakeObsidian, name: str) -> tuple[str, str, int]:
    """(salt, keyhash, encryption version) of a vault, from the fake server's database."""
    with sqlite3.connect(f"file:{fake.data / 'fake-server.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT salt, keyhash, encryption_version FROM vaults WHERE name = ?",
                          (name,)).fetchone()


def keyhash_secret(keyhash: str) -> str:
    """The credentials with the account's sign-in and, for the vault, its keyhash only."""
    return json.dumps({"email": EMAIL, "password": ACCOUNT_PASSWORD, "totp_secret": TOTP_SECRET,
                       "vaults": {VAULT: {"keyhash": keyhash}}})


class EncryptedCase(LambdaCase):
    def seed_secret_vault(self, secret_id: str | None = None) -> tuple[str, Path, VaultKeys]:
        """Seeds VAULT from the secret corpus and writes its keyhash (no vault password) into
        the secret; returns (vault id, corpus, keys)."""
        corpus = make_secret_corpus(self.work / "corpus" / VAULT)
        self.fake.seed(EMAIL, VAULT, VAULT_PASSWORD, corpus)
        salt, server_keyhash, version = vault_row(self.fake, VAULT)
        self.assertEqual(version, 3)
        keys = VaultKeys(VAULT_PASSWORD, salt)
        # The derivation above is Obsidian's: the server, seeded with the password, agrees.
        self.assertEqual(keys.keyhash, server_keyhash)
        # tearDown then checks every log line and answer for these too: the keyhash may be in the
        # secret, never in a log; the derived keys nowhere.
        self.extra_secrets += [keys.keyhash, *keys.decrypting()]
        self.moto.client("secretsmanager").put_secret_value(
            SecretId=secret_id or self.secret_id, SecretString=keyhash_secret(keys.keyhash))
        return self.fake.vault_ids()[VAULT], corpus, keys

    def objects(self, prefix: str = "") -> dict[str, dict]:
        """Every object under `prefix`: key -> {"body", "metadata", "content_type"}."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix):
            for o in page.get("Contents", []):
                got = self.s3.get_object(Bucket=self.bucket, Key=o["Key"])
                out[o["Key"]] = {"body": got["Body"].read(), "metadata": got["Metadata"],
                                 "content_type": got.get("ContentType", "")}
        return out

    def assert_no_plaintext(self, text: str | bytes, where: str, extra: tuple[str, ...] = ()) -> None:
        data = text.encode() if isinstance(text, str) else text
        for secret in SECRET_NAMES + SECRET_CONTENTS + [VAULT_PASSWORD, *extra]:
            self.assertNotIn(secret.encode(), data, f"{secret!r} in {where}")

    def assert_ciphertext_only(self, vault_prefix: str, expected_entries: int, keys: VaultKeys) -> None:
        """The vault's folder holds the manifest (and lock) under .obsync/ and one flat e/<sha256>
        object per entry; nothing in the bucket or the state table holds plaintext."""
        objects = self.objects()
        self.assertTrue(objects, "nothing was written")
        entries = [k for k in objects if k.startswith(f"{vault_prefix}/e/")]
        others = [k for k in objects if k not in entries]
        self.assertEqual(len(entries), expected_entries, sorted(objects))
        for key in entries:
            name = key.rsplit("/", 1)[1]
            self.assertRegex(name, r"^[0-9a-f]{64}$", key)
            self.assertEqual(objects[key]["content_type"], "application/octet-stream", key)
        for key in others:
            self.assertTrue(key.startswith(f"{vault_prefix}/.obsync/"), f"outside e/: {key}")
        manifest = json.loads(objects[f"{vault_prefix}/.obsync/backup.json"]["body"])
        self.assertEqual(manifest["layout"], "encrypted")
        self.assertEqual(manifest["encryption"]["keyhash"], keys.keyhash)
        for key, obj in objects.items():
            self.assert_no_plaintext(key, f"key {key}", tuple(keys.decrypting()))
            self.assert_no_plaintext(obj["body"], f"body of {key}", tuple(keys.decrypting()))
            self.assert_no_plaintext(json.dumps(obj["metadata"]) + obj["content_type"],
                                     f"metadata of {key}", tuple(keys.decrypting()))
        items = loopback.table_items(self.ddb, self.table)
        self.assertTrue(items)
        self.assert_no_plaintext(json.dumps(items), "the DynamoDB state", tuple(keys.decrypting()))

    def assert_environment_clean(self, emu, keys: VaultKeys) -> None:
        """Nothing in the function's environment can decrypt, or open the vault."""
        for name, value in emu.environment().items():
            for secret in [VAULT_PASSWORD, keys.keyhash, *keys.decrypting()]:
                self.assertNotIn(secret, value, f"in the function's {name}")


class EncryptedTest(EncryptedCase):
    def test_a_keyhash_only_function_keeps_the_ciphertext_complete_then_incremental(self):
        self.start_fake()
        vault_id, corpus, keys = self.seed_secret_vault()
        emu = self.emulator(OBSYNC_ENCRYPTED="true")
        self.assert_environment_clean(emu, keys)
        vault_prefix = f"{self.prefix}/{VAULT}"

        first = emu.invoke({"sync_type": "complete"})
        self.assertEqual(first.kind, "response", self.describe(first))
        body = self.body(first)
        self.assertTrue(body["success"], self.describe(first))
        self.assertIs(body["details"]["encrypted"], True)
        [vault] = body["vaults"]
        self.assertEqual((vault["id"], vault["created"], vault["failed"]),
                         (vault_id, files_of(corpus), 0))
        self.assertEqual(vault["destination"], f"s3://{self.bucket}/{vault_prefix}")
        self.assert_ciphertext_only(vault_prefix, entries_of(corpus), keys)
        # The invocation's log line says which mode it ran in.
        [requested] = [json.loads(l) for l in first.logs if '"sync requested"' in l]
        self.assertIs(requested["encrypted"], True)
        # No scrypt ran: a keyhash needs no derivation.
        [finished] = [json.loads(l) for l in first.logs if '"invocation finished"' in l]
        self.assertEqual(finished["key_derivations"], 0)

        # On the server: an edit, a deletion and a new file.
        edited = self.work / "edited.md"
        edited.write_text("moved the treasure")
        self.fake.admin("inject", "--vault", VAULT, "--password", VAULT_PASSWORD,
                        "--path", "Zanzibar/Quetzalcoatl.md", "--content-file", str(edited))
        self.fake.admin("inject", "--vault", VAULT, "--password", VAULT_PASSWORD,
                        "--path", "treasure-map.canvasboard", "--deleted")
        added = self.work / "added.md"
        added.write_text("the heron at dawn")
        self.fake.admin("inject", "--vault", VAULT, "--password", VAULT_PASSWORD,
                        "--path", "Xerxes.md", "--content-file", str(added))

        second = emu.invoke({})  # incremental, the function's mode
        self.assertEqual(second.kind, "response", self.describe(second))
        body = self.body(second)
        self.assertTrue(body["success"], self.describe(second))
        [vault] = body["vaults"]
        self.assertEqual((vault["created"], vault["updated"], vault["deleted"], vault["complete"]),
                         (1, 1, 1, False), vault)
        self.assert_ciphertext_only(vault_prefix, entries_of(corpus), keys)  # -1 +1
        # tearDown: no log line or answer of either run holds the vault password, the keyhash or
        # a key.

    def test_the_secrets_keyhash_is_masked_in_the_logs(self):
        """The keyhash is masked like a password: not only absent because nothing happened to
        log it, but replaced should a log record ever carry it (here the text of an exception
        the test hook throws in the next invocation of the same process)."""
        self.start_fake()
        _, _, keys = self.seed_secret_vault()
        emu = self.emulator(OBSYNC_ENCRYPTED="true", OBSYNC_LAMBDA_TEST_HOOKS="1")
        self.invoke_ok(emu, {"sync_type": "complete"})  # reads the secret, masks its keyhash

        def fault_lines(detail: str) -> list[str]:
            result = emu.invoke({"obsync_test_fault": "exception", "obsync_test_detail": detail})
            self.assertEqual(result.kind, "error", self.describe(result))
            self.assertEqual(result.error_type, "Obsync.InternalError")
            lines = [line for line in result.logs if "test fault" in line]
            self.assertTrue(lines, result.logs)
            return lines

        # The detail reaches the log as it is when it is no secret...
        self.assertTrue(any("not-a-secret-7f3a" in line for line in fault_lines("not-a-secret-7f3a")))
        # ...and masked when it is the secret's keyhash.
        lines = fault_lines(f"the keyhash is {keys.keyhash}.")
        for line in lines:
            self.assertNotIn(keys.keyhash, line)
        self.assertTrue(any("the keyhash is ***." in line for line in lines), lines)
        # tearDown checks every other line and answer for the keyhash too.

    def test_a_request_cannot_turn_the_encrypted_mode_off(self):
        self.start_fake()
        _, corpus, keys = self.seed_secret_vault()
        emu = self.emulator(OBSYNC_ENCRYPTED="true")
        # 403, as a dest_bucket the function may not write to: the request is well formed, but
        # what it asks for is what the operator forbade.
        refused = self.assert_refused(emu.invoke({"encrypted": False}), None, "bad_input")
        self.assertIn("OBSYNC_ENCRYPTED", refused["error"]["message"])
        for event in (apigw_v1({"encrypted": False, "sync_type": "complete"}),
                      function_url({"vault_id": VAULT, "encrypted": False})):
            self.assert_refused(emu.invoke(event), 403, "bad_input")
        self.assert_refused(emu.invoke({"action": "verify", "encrypted": False}), None, "bad_input")
        self.assertEqual(self.objects(), {}, "a refused request wrote something")
        # A wrong type is a plain 400.
        self.assert_refused(emu.invoke(apigw_v1({"encrypted": "false"})), 400, "bad_input")
        # Asking for it explicitly is the same as not asking.
        body = self.invoke_ok(emu, {"encrypted": True, "sync_type": "complete"})
        self.assertIs(body["details"]["encrypted"], True)
        self.assert_ciphertext_only(f"{self.prefix}/{VAULT}", entries_of(corpus), keys)

    def test_the_keyhash_secret_without_the_encrypted_mode_fails_the_vault_and_writes_nothing(self):
        self.start_fake()
        _, _, keys = self.seed_secret_vault()
        emu = self.emulator()  # OBSYNC_ENCRYPTED unset: plaintext, which needs the password
        self.assert_environment_clean(emu, keys)
        result = emu.invoke({"sync_type": "complete"})
        # A permanent failure of the vault (the configuration must change): an answer, no retry.
        self.assertEqual(result.kind, "response", self.describe(result))
        body = self.body(result)
        self.assertIs(body["success"], False)
        self.assertIs(body["details"]["encrypted"], False)
        [vault] = body["vaults"]
        self.assertEqual(vault["error"]["kind"], "config", vault)
        self.assertIn("keyhash", vault["error"]["message"])
        self.assertIn("encrypted", vault["error"]["message"])
        self.assertTrue(any("keyhash" in line for line in body["errors"]), body["errors"])
        self.assertEqual(self.objects(), {}, "the failed vault wrote to the bucket")
        self.assertEqual(loopback.table_items(self.ddb, self.table), [],
                         "the failed vault wrote state")
        self.assertEqual(self.fake.pulls(), [], "the failed vault downloaded")
        # The same request turning the mode on backs it up.
        body = self.invoke_ok(emu, {"sync_type": "complete", "encrypted": True})
        self.assertIs(body["details"]["encrypted"], True)

    def test_a_verify_of_the_encrypted_backup_needs_no_password(self):
        self.start_fake()
        _, _, keys = self.seed_secret_vault()
        emu = self.emulator(OBSYNC_ENCRYPTED="true")
        self.invoke_ok(emu, {"sync_type": "complete"})
        before = {k: v["body"] for k, v in self.objects().items()}

        result = emu.invoke({"action": "verify", "deep_percent": 100})
        self.assertEqual(result.kind, "response", self.describe(result))
        body = self.body(result)
        self.assertEqual(body["action"], "verify")
        self.assertIs(body["details"]["encrypted"], True)
        [requested] = [json.loads(l) for l in result.logs if '"verify requested"' in l]
        self.assertIs(requested["encrypted"], True)
        self.assertEqual({k: v["body"] for k, v in self.objects().items()}, before,
                         "a verify wrote something")
        # Checked against the server's records under their encoded paths, without the
        # password: no drift, and the deep share skipped (reading the bytes means decrypting).
        self.assertTrue(body["success"], self.describe(result))
        self.assertEqual(body["drift_count"], 0, body)
        [vault] = body["vaults"]
        self.assertNotIn("error", vault)
        self.assertEqual(vault["checked_deep"], 0, vault)

        # An object gone from the bucket is found, still without the password, and shown by its
        # encoded path only: the answer and the logs name no file of the vault.
        [gone] = [k for k in before if k.startswith(f"{self.prefix}/{VAULT}/e/")][:1]
        self.s3.delete_object(Bucket=self.bucket, Key=gone)
        result = emu.invoke({"action": "verify"})
        self.assertEqual(result.kind, "response", self.describe(result))
        body = self.body(result)
        self.assertIs(body["success"], False)
        self.assertEqual(body["drift_count"], 1, body)
        self.assertEqual(body["vaults"][0]["counts"]["missing"], 1, body)
        self.assert_no_plaintext(result.raw, "the verify's answer", tuple(keys.decrypting()))
        for line in result.logs:
            self.assert_no_plaintext(line, "a verify log line", tuple(keys.decrypting()))

    def test_a_bad_value_of_the_variable_fails_the_start(self):
        for value in ("yes", "encrypted", "2"):
            with self.subTest(value=value):
                emu = self.emulator(OBSYNC_ENCRYPTED=value)
                result = emu.invoke({})
                self.assertEqual(result.kind, "init_error", self.describe(result))
                self.assertEqual(result.error_type, "Obsync.ConfigError")
                self.assertIn("OBSYNC_ENCRYPTED", result.payload["errorMessage"])
                self.assertEqual(emu.wait_exit(10), 1)


class EncryptedQueueTest(QueueCase, EncryptedCase):
    def test_a_dispatched_vault_keeps_its_mode_and_a_plaintext_message_is_parked(self):
        self.start_accounts(accounts=("own",))
        _, corpus, keys = self.seed_secret_vault()
        vault_prefix = f"{self.prefix}/{VAULT}"

        # A function left in the plaintext mode: the request turns the encrypted mode on, and its
        # dispatched message carries it to the worker.
        plain = self.workers(1)
        result = plain[0].invoke({"encrypted": True, "sync_type": "complete"})
        self.assertEqual(result.kind, "response", self.describe(result))
        self.assertTrue(result.payload["dispatched"], self.describe(result))
        self.assertEqual(result.payload["vaults_queued"], 1)
        self.assertIs(result.payload["details"]["encrypted"], True)
        mapping = self.drain(plain, 120)
        bodies = [json.loads(b) for i in mapping.invocations for b in i.bodies]
        self.assertEqual([b.get("encrypted") for b in bodies], [True], bodies)
        received = [json.loads(l.text) for l in plain[0].all_logs if '"message received"' in l.text]
        self.assertEqual([r["encrypted"] for r in received], [True])
        self.assert_ciphertext_only(vault_prefix, entries_of(corpus), keys)
        self.assertEqual(self.dlq_bodies(), [])

        # Under OBSYNC_ENCRYPTED=true a message asking for plaintext (sent by hand) is parked once
        # in the dead-letter queue, and nothing changes.
        before = {k: v["body"] for k, v in self.objects().items()
                  if not k.startswith(f"{vault_prefix}/.obsync/")}
        encrypted = self.workers(1, OBSYNC_ENCRYPTED="true")
        self.sqs.send_message(QueueUrl=self.queue.url,
                              MessageBody=json.dumps({"vault_id": VAULT, "encrypted": False}))
        mapping = self.drain(encrypted, 120)
        self.assertEqual(self.dlq_bodies(), [{"vault_id": VAULT, "encrypted": False}])
        parked = [json.loads(l.text) for l in encrypted[0].all_logs
                  if '"message failed for good"' in l.text]
        self.assertEqual(len(parked), 1)
        self.assertIn("OBSYNC_ENCRYPTED", parked[0]["error"])
        after = {k: v["body"] for k, v in self.objects().items()
                 if not k.startswith(f"{vault_prefix}/.obsync/")}
        self.assertEqual(after, before)
        # A dispatch of that function writes the mode into every message, so that a vault's
        # continuations keep it whatever the variable says when they run.
        result = encrypted[0].invoke({})
        self.assertEqual(result.payload["vaults_queued"], 1, self.describe(result))
        [message] = esm_driver.receive_all(self.sqs, self.queue.url, delete=True)
        self.assertIs(json.loads(message["Body"])["encrypted"], True)


if __name__ == "__main__":
    unittest.main()
