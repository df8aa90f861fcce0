"""The Runtime API emulator against a tiny Python bootstrap (echo_function.py)."""

import json
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runtime_emulator import PAYLOAD_LIMIT, PayloadTooLarge, RuntimeEmulator  # noqa: E402

ECHO = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo_function.py")]


class RuntimeEmulatorTest(unittest.TestCase):
    def emulator(self, **kwargs):
        emu = RuntimeEmulator(ECHO, **kwargs)
        emu.start()
        self.addCleanup(emu.close)
        return emu

    def test_response_with_lambda_headers_and_environment(self):
        emu = self.emulator(function_timeout=7, function_name="echo-fn", memory_mb=256)
        before_ms = time.time() * 1000
        result = emu.invoke({"hello": "world"})
        self.assertEqual(result.kind, "response", result)
        self.assertTrue(result.cold)
        self.assertEqual(result.payload["event"], {"hello": "world"})
        headers = {k.lower(): v for k, v in result.payload["headers"].items()}
        self.assertEqual(headers["lambda-runtime-aws-request-id"], result.request_id)
        uuid.UUID(result.request_id)
        deadline = int(headers["lambda-runtime-deadline-ms"])
        self.assertGreaterEqual(deadline, before_ms + 7000 - 50)
        self.assertLessEqual(deadline, time.time() * 1000 + 7000)
        self.assertEqual(
            headers["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:echo-fn",
        )
        self.assertTrue(headers["lambda-runtime-trace-id"].startswith("Root=1-"))
        self.assertIsNone(result.payload["home"])
        self.assertEqual(os.path.realpath(result.payload["cwd"]), os.path.realpath(emu.workdir))
        env = result.payload["env"]
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "echo-fn")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256")
        self.assertEqual(env["AWS_LAMBDA_RUNTIME_API"], emu.runtime_api)
        self.assertEqual(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo-fn")
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        self.assertIsNotNone(emu.cold_start_s)
        self.assertGreater(emu.cold_start_s, 0)
        self.assertEqual(result.init_duration, emu.cold_start_s)
        # The init line and the invocation's line are this invocation's logs.
        self.assertIn("init", [json.loads(line)["message"] for line in result.logs])

        warm = emu.invoke({"n": 2})
        self.assertEqual(warm.kind, "response")
        self.assertFalse(warm.cold)
        self.assertEqual(warm.pid, result.pid)
        self.assertEqual(warm.payload["pid"], result.payload["pid"])
        self.assertNotEqual(warm.request_id, result.request_id)
        self.assertEqual(emu.starts, 1)
        self.assertNotIn("init", [json.loads(line)["message"] for line in warm.logs])

    def test_logs_are_kept_per_invocation_from_both_streams(self):
        emu = self.emulator()
        first = emu.invoke({"action": "log", "lines": ["one", "two"], "stderr": ["err-one"]})
        second = emu.invoke({"action": "log", "lines": ["three"]})
        self.assertIn("one", first.logs)
        self.assertIn("two", first.logs)
        self.assertIn("err-one", first.logs)
        self.assertEqual({r.stream for r in first.log_records if r.text == "err-one"}, {"stderr"})
        self.assertNotIn("three", first.logs)
        self.assertIn("three", second.logs)
        self.assertNotIn("one", second.logs)

    def test_raw_bytes_event_is_sent_as_is(self):
        emu = self.emulator()
        result = emu.invoke(b"not json at all")
        self.assertEqual(result.payload["event"], {"action": "echo", "raw": "not json at all"})

    def test_error_records_the_error_type(self):
        emu = self.emulator()
        result = emu.invoke({"action": "error", "type": "Obsync.Retryable.busy"})
        self.assertEqual(result.kind, "error")
        self.assertEqual(result.error_type, "Obsync.Retryable.busy")
        self.assertEqual(result.payload["errorType"], "Obsync.Retryable.busy")
        after = emu.invoke({})
        self.assertEqual(after.kind, "response")
        self.assertFalse(after.cold)
        self.assertEqual(after.payload["last_post_status"], 202)

    def test_timeout_kills_the_process_and_the_next_invoke_is_cold(self):
        emu = self.emulator(function_timeout=1.5)
        first = emu.invoke({})
        pid = first.pid
        started = time.monotonic()
        slow = emu.invoke({"action": "sleep", "seconds": 30})
        self.assertEqual(slow.kind, "timeout")
        self.assertLess(time.monotonic() - started, 5)
        self.assertGreaterEqual(slow.duration, 1.4)
        self.assertIn(-9, emu.exit_codes)  # SIGKILL
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        again = emu.invoke({})
        self.assertEqual(again.kind, "response")
        self.assertTrue(again.cold)
        self.assertNotEqual(again.pid, pid)
        self.assertEqual(emu.starts, 2)

    def test_per_invocation_timeout_override(self):
        emu = self.emulator(function_timeout=30)
        result = emu.invoke({"action": "sleep", "seconds": 30}, timeout_s=1)
        self.assertEqual(result.kind, "timeout")
        self.assertLess(result.duration, 3)

    def test_crash_is_reported_and_the_next_invoke_restarts(self):
        emu = self.emulator()
        emu.invoke({})
        crashed = emu.invoke({"action": "crash"})
        self.assertEqual(crashed.kind, "crash")
        self.assertIn(3, emu.exit_codes)
        self.assertIn("crashing", [json.loads(line)["message"] for line in crashed.logs])
        again = emu.invoke({})
        self.assertEqual(again.kind, "response")
        self.assertTrue(again.cold)
        self.assertNotEqual(again.pid, crashed.pid)

    def test_init_error(self):
        emu = self.emulator(env={"ECHO_INIT_ERROR": "1"})
        result = emu.invoke({})
        self.assertEqual(result.kind, "init_error")
        self.assertEqual(result.error_type, "Echo.ConfigError")
        self.assertEqual(result.payload["errorMessage"], "S3_BUCKET is not set")
        self.assertEqual(emu.wait_exit(5), 1)
        self.assertEqual(emu.starts, 1)
        self.assertEqual(len(emu.init_errors), 1)
        time.sleep(0.5)
        self.assertEqual(emu.starts, 1, "the emulator restarted the process by itself")

    def test_response_over_6_mb_is_refused_with_413(self):
        emu = self.emulator()
        big = emu.invoke({"action": "big", "size": PAYLOAD_LIMIT})
        self.assertEqual(big.kind, "error")
        self.assertEqual(big.error_type, "Function.ResponseSizeTooLarge")
        after = emu.invoke({})
        self.assertEqual(after.payload["last_post_status"], 413)
        self.assertFalse(after.cold)
        # Just under the limit goes through.
        fits = emu.invoke({"action": "big", "size": PAYLOAD_LIMIT - 100})
        self.assertEqual(fits.kind, "response")
        self.assertEqual(len(fits.payload), PAYLOAD_LIMIT - 100)

    def test_event_over_6_mb_is_refused_before_the_function(self):
        emu = self.emulator()
        with self.assertRaises(PayloadTooLarge):
            emu.invoke({"blob": "x" * PAYLOAD_LIMIT})
        self.assertEqual(emu.starts, 0)

    def test_overlap_needs_two_environments(self):
        emu = self.emulator()
        other = self.emulator()
        handle = emu.invoke_async({"action": "sleep", "seconds": 1})
        with self.assertRaises(RuntimeError):
            emu.invoke_async({})
        second = other.invoke_async({"action": "sleep", "seconds": 1})
        a, b = handle.wait(), second.wait()
        self.assertEqual((a.kind, b.kind), ("response", "response"))
        self.assertNotEqual(a.pid, b.pid)
        self.assertLess(b.started_at, a.ended_at, "the two did not overlap")
        self.assertLess(a.started_at, b.ended_at, "the two did not overlap")

    def test_freeze_and_thaw(self):
        emu = self.emulator(function_timeout=10)
        emu.invoke({})
        handle = emu.invoke_async({"action": "sleep", "seconds": 0.5})
        self.assertTrue(handle.handed_out(5))
        emu.freeze()
        time.sleep(1.5)
        self.assertFalse(handle.done())
        emu.thaw()
        self.assertEqual(handle.wait().kind, "response")

    def test_close_kills_the_process(self):
        emu = RuntimeEmulator(ECHO)
        with emu:
            handle = emu.invoke_async({"action": "sleep", "seconds": 30})
            self.assertTrue(handle.handed_out(10))
            pid = emu.pid
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        self.assertEqual(handle.wait(5).kind, "crash")


if __name__ == "__main__":
    unittest.main()
