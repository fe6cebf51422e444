# A leaner hook for torch than PyInstaller's contributed one, which also collects the C++ test
# programs and their data (about 100 MB) that a CPU inference-and-training app never runs.
from PyInstaller.utils.hooks import PY_DYLIB_PATTERNS, collect_data_files, collect_dynamic_libs, collect_submodules

module_collection_mode = "pyz+py"  # TorchScript and torch.library read Python sources at run time
warn_on_missing_hiddenimports = False

datas = collect_data_files(
    "torch",
    excludes=["**/*.h", "**/*.hpp", "**/*.cuh", "**/*.lib", "**/*.cpp", "**/*.pyi", "**/*.cmake",
              "include/**", "share/**", "test/**", "bin/**"],
)
_TEST_LIBS = ("test", "backend_with_compiler")
binaries = [
    (src, dest)
    for src, dest in collect_dynamic_libs("torch", search_patterns=PY_DYLIB_PATTERNS + ["*.so.*"])
    if "/test/" not in src and "/bin/" not in src and not any(t in src.rsplit("/", 1)[-1] for t in _TEST_LIBS)
]
# `import torch` checks that its shared-memory helper exists, although only multiprocessing uses it.
binaries += [(src, dest) for src, dest in collect_dynamic_libs("torch", search_patterns=["torch_shm_manager"])]
# Every submodule, as the contributed hook does: torch imports many by name at run time (the optimisers
# load torch._dynamo, which loads its polyfills with importlib). Test suites and TensorBoard are left out.
_SKIP = ("torch.utils.tensorboard", "torch.testing._internal.distributed", "torch.testing._internal.opinfo",
         "torch.testing._internal.optests", "torch.testing._internal.generated")
hiddenimports = collect_submodules("torch", filter=lambda name: not name.startswith(_SKIP))
bindepend_symlink_suppression = ["**/torch/lib/*.so*"]
