import signal, threading, time, json
from google.cloud import firestore, storage
from tests.conftest import BUCKET, PROJECT

def test_probe_kill(stack, telegram):
    db = firestore.Client(project=PROJECT)
    t0 = time.monotonic()
    sent = telegram.send_text(chat_id=555001, user_id=555001, text="/pixel a probe castle")
    job_id = f"u{sent.update_id}"
    seen = threading.Event()
    def on(docs, changes, read_time):
        for d in docs:
            if (d.to_dict() or {}).get("state") == "generating":
                seen.set()
    watch = db.collection("jobs").document(job_id).on_snapshot(on)
    try:
        assert seen.wait(60)
        t_gen = time.monotonic() - t0
        stack.supervisor.stop_one("gpu_service", signal.SIGKILL)
        t_kill = time.monotonic() - t0
        watch.unsubscribe()
        doc = db.collection("jobs").document(job_id).get().to_dict()
        blobs = [b.name for b in storage.Client(project=PROJECT).bucket(BUCKET).list_blobs(prefix=f"outputs/{job_id}")]
        print("gen at", t_gen, "killed at", t_kill, "state", doc["state"], "blobs", blobs, time.time())
        stack.start_gpu_service()
        print("ready at", time.monotonic() - t0)
        photo = telegram.wait_for_call("sendPhoto", lambda c: str(c.params["chat_id"]) == "555001", timeout=200)
        print("photo at", time.monotonic() - t0)
        time.sleep(3)
    finally:
        print(db.collection("jobs").document(job_id).get().to_dict())
        for line in stack.supervisor.log_path("gpu_service").read_text().splitlines():
            if "job" in line or "warm" in line or "Listening" in line: print(line[:300])
        print([ (c.method, c.params.get("text")) for c in telegram.calls() if str(c.params.get("chat_id")) == "555001"])
