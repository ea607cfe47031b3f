"""`cmake --install` puts the package where /usr/bin/python3 finds it: into
<prefix>/lib/python3.X/dist-packages (on sys.path for the default prefix
/usr/local; PYTHONPATH for another), and it imports from there with a
plain interpreter, no LD_PRELOAD."""
import os
import subprocess
import sys
import sysconfig


def test_cmake_install_puts_an_importable_package(tmp_path):
    build = os.environ["IVCS_BUILD_DIR"]
    # (cmake is not run with a sanitizer runtime an ASan build preloads)
    plain = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=plain)
    assert r.returncode == 0, r.stdout + r.stderr
    ver = sysconfig.get_python_version()
    site = tmp_path / "lib" / f"python{ver}" / "dist-packages"
    assert (site / "ivcs" / "__init__.py").is_file(), sorted(os.listdir(tmp_path / "lib"))
    # the default prefix's directory is on /usr/bin/python3's path
    r = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('\\n'.join(sys.path))"],
                       capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin"})
    assert f"/usr/local/lib/python{ver}/dist-packages" in r.stdout.split()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site)}
    if os.environ.get("IVCS_ASAN_PRELOAD"):
        env.update(LD_PRELOAD=os.environ["LD_PRELOAD"], ASAN_OPTIONS="detect_leaks=0")
    code = ("import ivcs, ivcs.viewer, ivcs.seed, ivcs.testing;"
            "print(ivcs.__file__); print(ivcs.version())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode == 0, r.stderr
    path, ver_line = r.stdout.split()
    assert path.startswith(str(site)) and ver_line == ivcs_version()


def ivcs_version():
    import ivcs
    return ivcs.version()
