"""{"action": "verify"} of build/obsync-lambda (docs/lambda.md, "Verify"), on loopback like
test_function.py (whose LambdaCase checks every log line, answer and EMF record in tearDown,
BackupDrift included): a fresh backup verifies clean; an object deleted behind the backup's back
is missing, a stray one extra, bytes tampered with under their metadata corrupt with
deep_percent; BackupDrift counts them; verify changes no object; a note the server changed after
the backup is stale and pending (BackupDriftPending); the verify is inline, over HTTP too, and its
refusals and failures are a sync's.
"""

from __future__ import annotations

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_function import VAULT_PASSWORD, LambdaCase, apigw_v1  # noqa: E402


def drift_of(body: dict) -> set[str]:
    return {f"{d['kind']} {d['path']}" for v in body["vaults"] for d in v.get("drift", [])}


class VerifyTest(LambdaCase):
    def backed_up(self):
        self.start_fake()
        vault_id, corpus = self.seed("Notes")
        emu = self.emulator()
        self.invoke_ok(emu, {"sync_type": "complete"})
        return emu, vault_id, f"{self.prefix}/Notes"

    def objects(self) -> dict[str, str]:
        """Every object of the bucket: key -> ETag."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for o in page.get("Contents", []):
                out[o["Key"]] = o["ETag"]
        return out

    def drift_records(self, result) -> list[dict]:
        records = []
        for line in result.logs:
            doc = json.loads(line)
            if "BackupDrift" in doc:
                records.append(doc)
        return records

    def test_verify_reports_drift_and_emits_backup_drift(self):
        emu, vault_id, prefix = self.backed_up()

        clean = self.invoke_ok(emu, {"action": "verify"})
        self.assertEqual(clean["action"], "verify")
        self.assertEqual(clean["vaults_verified"], 1)
        self.assertEqual(clean["drift_count"], 0)
        vault = clean["vaults"][0]
        self.assertEqual(vault["id"], vault_id)
        self.assertEqual(vault["files"], 11)
        self.assertEqual(vault["checked_deep"], 0)
        self.assertEqual(vault["counts"], {"missing": 0, "extra": 0, "stale": 0, "corrupt": 0})

        # Behind the backup's back: one object deleted, one added, one's bytes replaced (same
        # length, same metadata).
        self.s3.delete_object(Bucket=self.bucket, Key=f"{prefix}/Notes/n000.md")
        self.s3.put_object(Bucket=self.bucket, Key=f"{prefix}/stray.md", Body=b"not from the vault")
        photo = f"{prefix}/Attachments/photo.png"
        head = self.s3.head_object(Bucket=self.bucket, Key=photo)
        self.s3.put_object(Bucket=self.bucket, Key=photo, Body=b"X" * head["ContentLength"],
                           Metadata=head["Metadata"])
        before = self.objects()

        result = emu.invoke({"action": "verify"})
        self.assertEqual(result.kind, "response", self.describe(result))  # drift is no error
        body = self.body(result)
        self.assertIs(body["success"], False)
        self.assertEqual(drift_of(body), {"missing Notes/n000.md", "extra stray.md"})
        self.assertEqual(body["drift_count"], 2)
        # Behind the backup's back, not on the server: not pending.
        self.assertEqual([d["pending"] for d in body["vaults"][0]["drift"]], [False, False])
        self.assertEqual(body["vaults"][0]["pending"], 0)
        [record] = self.drift_records(result)
        self.assertEqual(record["BackupDrift"], 2)
        self.assertEqual(record["BackupDriftPending"], 0)
        self.assertEqual(record["VaultID"], vault_id)

        deep = self.body(emu.invoke({"action": "verify", "vault_id": "Notes", "deep_percent": 100}))
        self.assertEqual(drift_of(deep), {"missing Notes/n000.md", "extra stray.md",
                                          "corrupt Attachments/photo.png"})
        self.assertEqual(deep["vaults"][0]["checked_deep"], 11)  # 11 - 1 deleted + 1 stray

        # Over HTTP (POST with the action in the body): 200, the same report.
        http = emu.invoke(apigw_v1({"action": "verify"}))
        self.assertEqual(http.payload["statusCode"], 200, self.describe(http))
        self.assertEqual(drift_of(json.loads(http.payload["body"])),
                         {"missing Notes/n000.md", "extra stray.md"})

        # Nothing was written: no lock or marker object appeared, none went, none changed.
        self.assertEqual(self.objects(), before)

    def test_what_the_server_changed_since_the_backup_is_pending(self):
        emu, vault_id, prefix = self.backed_up()
        write_to = self.work / "edited.md"
        write_to.write_text("edited after the backup")
        self.fake.admin("inject", "--vault", "Notes", "--password", VAULT_PASSWORD,
                        "--path", "Hello.md", "--content-file", str(write_to))
        self.s3.delete_object(Bucket=self.bucket, Key=f"{prefix}/Notes/n000.md")

        result = emu.invoke({"action": "verify"})
        self.assertEqual(result.kind, "response", self.describe(result))
        body = self.body(result)
        self.assertEqual(drift_of(body), {"stale Hello.md", "missing Notes/n000.md"})
        vault = body["vaults"][0]
        self.assertEqual({d["path"]: d["pending"] for d in vault["drift"]},
                         {"Hello.md": True, "Notes/n000.md": False})
        self.assertEqual(vault["pending"], 1)
        [record] = self.drift_records(result)
        self.assertEqual((record["BackupDrift"], record["BackupDriftPending"]), (2, 1))
        self.assertEqual(record["VaultID"], vault_id)

    def test_verify_is_inline_even_with_a_queue_and_refuses_like_a_sync(self):
        emu, _, _ = self.backed_up()
        for bad in ({"action": "verify", "dispatch": True}, {"deep_percent": 5},
                    {"action": "check"}, {"action": "verify", "deep_percent": 101}):
            self.assert_refused(emu.invoke(bad), None, "bad_input")
        # An unknown vault: 404 over HTTP, as a sync's.
        missing = emu.invoke(apigw_v1({"action": "verify", "vault_id": "Nope"}))
        self.assertEqual(missing.payload["statusCode"], 404, self.describe(missing))
        # With a queue configured, {"action":"verify"} for every vault still answers in the request.
        queued = self.emulator(OBSYNC_QUEUE_URL=f"{self.moto.endpoint}/123456789012/obsync-work")
        body = self.invoke_ok(queued, {"action": "verify"})
        self.assertEqual(body["vaults_verified"], 1)


if __name__ == "__main__":
    unittest.main()
