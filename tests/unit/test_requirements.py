from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_deployable_folders_carry_exact_copies_of_the_pinned_requirements():
    assert (ROOT / "functions/requirements.txt").read_text() == (
        ROOT / "requirements/functions.txt"
    ).read_text()
    assert (ROOT / "gpu_service/requirements.txt").read_text() == (ROOT / "requirements/gpu.txt").read_text()


def test_every_requirement_is_pinned():
    for name in ("functions.txt", "gpu.txt", "dev.txt", "torch-cpu.txt"):
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert "==" in line, f"{name}: {line} is not pinned"
