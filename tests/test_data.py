"""Input batches: IDX and CIFAR pickle fixtures in their real formats, read back exactly."""
from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from search_spaces.data import (
    NORMALISATION,
    SOURCES,
    DataError,
    DataNotFoundError,
    load_batch,
)

FMNIST = Path("/usr/share/datasets/fashion-mnist")
FM_MEAN, FM_STD = 0.2860, 0.3530


# ---- fixture writers (real formats) ---------------------------------------------------


def write_idx(path: Path, arr: np.ndarray, magic: int | None = None, gz: bool = False,
              cut: int = 0) -> Path:
    """An IDX file: big-endian int32 magic, big-endian int32 dims, then uint8 data."""
    magic = (0x0800 | arr.ndim) if magic is None else magic
    raw = struct.pack(">i", magic) + struct.pack(f">{arr.ndim}i", *arr.shape)
    raw += arr.astype(np.uint8).tobytes()
    if cut:
        raw = raw[:-cut]
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)
    return path


def make_fmnist(folder: Path, n_train: int = 20, n_test: int = 7, gz: bool = True,
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = ((np.arange(n) * 7 + (3 if split == "test" else 0)) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", imgs, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz=gz)
        out[split] = (imgs, labels)
    return out


def cifar_pickle(path: Path, data: np.ndarray, labels, label_key: bytes = b"labels") -> None:
    d = {b"batch_label": b"fixture", label_key: list(map(int, labels)), b"data": data,
         b"filenames": [b"img%d.png" % i for i in range(len(data))]}
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)


def make_cifar10(folder: Path, per_batch: int = 4, n_test: int = 3, seed: int = 0):
    """cifar-10-batches-py with 5 training batches of ``per_batch`` images."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = [], []
    for i in range(1, 6):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch)
        cifar_pickle(folder / f"data_batch_{i}", data, labels)
        train_x.append(data)
        train_y.append(labels)
    test_x = rng.integers(0, 256, size=(n_test, 3072), dtype=np.uint8)
    test_y = rng.integers(0, 10, size=n_test)
    cifar_pickle(folder / "test_batch", test_x, test_y)
    return (np.concatenate(train_x), np.concatenate(train_y)), (test_x, test_y)


def unnormalise(x: torch.Tensor, source: str) -> torch.Tensor:
    mean, std = NORMALISATION[source]
    return x * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)


# ---- Fashion-MNIST --------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_fmnist_reads_exact_pixels_and_labels(tmp_path, gz):
    ref = make_fmnist(tmp_path, gz=gz)
    x, y = load_batch("fashion-mnist", 5, path=tmp_path)
    imgs, labels = ref["train"]
    assert x.dtype == torch.float32 and x.shape == (5, 3, 28, 28)
    assert y.dtype == torch.int64 and y.tolist() == labels[:5].tolist()
    expected = (torch.from_numpy(imgs[:5]).float() / 255 - FM_MEAN) / FM_STD
    for c in range(3):  # grey replicated to 3 channels
        torch.testing.assert_close(x[:, c], expected, rtol=0, atol=1e-6)
    # pixel (0,0) of image 0, by hand
    assert x[0, 0, 0, 0].item() == pytest.approx((imgs[0, 0, 0] / 255 - 0.2860) / 0.3530, abs=1e-6)


def test_fmnist_test_split_is_t10k(tmp_path):
    ref = make_fmnist(tmp_path)
    x, y = load_batch("fashion-mnist", 7, path=tmp_path, split="test")
    imgs, labels = ref["test"]
    assert y.tolist() == labels.tolist()
    torch.testing.assert_close(unnormalise(x, "fashion-mnist")[:, 1] * 255,
                               torch.from_numpy(imgs).float(), rtol=0, atol=1e-3)


def test_fmnist_accepts_parent_folder_and_dotted_names(tmp_path):
    ref = make_fmnist(tmp_path / "fashion-mnist")
    _, y = load_batch("fashion-mnist", 3, path=tmp_path)
    assert y.tolist() == ref["train"][1][:3].tolist()
    # dotted names, as some mirrors (e.g. Kaggle) ship them: train-images.idx3-ubyte
    other = tmp_path / "dotted"
    ref = make_fmnist(other, gz=False, seed=5)
    for p in other.iterdir():
        p.rename(p.with_name(p.name.replace("-idx", ".idx")))
    x, y = load_batch("fashion-mnist", 2, path=other)
    assert y.tolist() == ref["train"][1][:2].tolist()


def test_normalisation_constants():
    assert NORMALISATION["fashion-mnist"] == ((0.2860,) * 3, (0.3530,) * 3)
    assert NORMALISATION["cifar10"] == ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    assert NORMALISATION["cifar100"] == ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
    assert SOURCES == ("fashion-mnist", "fashion-mnist-sample", "cifar10", "cifar100", "noise",
                       "imagenet16-120", "image-folder")


@pytest.mark.parametrize("size", [3, 15, 32, (5, 7)])
def test_resize(tmp_path, size):
    ref = make_fmnist(tmp_path)
    x, _ = load_batch("fashion-mnist", 4, path=tmp_path, size=size)
    hw = (size, size) if isinstance(size, int) else size
    assert x.shape == (4, 3) + hw
    raw = torch.from_numpy(ref["train"][0][:4]).float()[:, None] / 255
    shrink = hw[0] < 28 or hw[1] < 28
    want = F.interpolate(raw, size=hw, mode="bilinear", align_corners=False, antialias=shrink)
    torch.testing.assert_close(x[:, :1], (want - FM_MEAN) / FM_STD, rtol=0, atol=1e-5)
    if size == 3:  # antialiased: each output pixel averages a ~9x9 patch, far from a point sample
        point = F.interpolate(raw, size=hw, mode="bilinear", align_corners=False)
        assert not torch.allclose(want, point, atol=1e-3)


def test_resize_constant_image_stays_constant(tmp_path):
    imgs = np.full((2, 28, 28), 200, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", imgs)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2], dtype=np.uint8))
    for s in (3, 15, 32):
        x, _ = load_batch("fashion-mnist", 2, path=tmp_path, size=s, split="train")
        torch.testing.assert_close(x, torch.full_like(x, (200 / 255 - FM_MEAN) / FM_STD),
                                   rtol=0, atol=1e-5)


def test_pick_first_and_random(tmp_path):
    ref = make_fmnist(tmp_path, n_train=30)
    imgs, labels = ref["train"]
    _, y_first = load_batch("fashion-mnist", 6, path=tmp_path)
    assert y_first.tolist() == labels[:6].tolist()
    x1, y1 = load_batch("fashion-mnist", 6, path=tmp_path, pick="random", seed=1)
    x1b, y1b = load_batch("fashion-mnist", 6, path=tmp_path, pick="random", seed=1)
    x2, _ = load_batch("fashion-mnist", 6, path=tmp_path, pick="random", seed=2)
    idx = np.sort(np.random.default_rng(1).choice(30, size=6, replace=False))
    assert y1.tolist() == labels[idx].tolist()
    torch.testing.assert_close(unnormalise(x1, "fashion-mnist")[:, 0] * 255,
                               torch.from_numpy(imgs[idx]).float(), rtol=0, atol=1e-3)
    assert torch.equal(x1, x1b) and torch.equal(y1, y1b)
    assert not torch.equal(x1, x2)
    # all of the split
    _, y_all = load_batch("fashion-mnist", 30, path=tmp_path, pick="random", seed=3)
    assert y_all.tolist() == labels.tolist()


def test_cache_sees_a_rewritten_file(tmp_path):
    make_fmnist(tmp_path, gz=False)
    _, y = load_batch("fashion-mnist", 3, path=tmp_path)
    new = np.array([5, 5, 5] + [0] * 17, dtype=np.uint8)
    write_idx(tmp_path / "train-labels-idx1-ubyte", new)
    st = os.stat(tmp_path / "train-labels-idx1-ubyte")
    os.utime(tmp_path / "train-labels-idx1-ubyte", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _, y2 = load_batch("fashion-mnist", 3, path=tmp_path)
    assert y2.tolist() == [5, 5, 5] and y.tolist() != [5, 5, 5]
    # the returned tensors are copies: editing them does not poison the cache
    y2[0] = 9
    assert load_batch("fashion-mnist", 3, path=tmp_path)[1].tolist() == [5, 5, 5]


def test_fmnist_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataNotFoundError) as ei:
        load_batch("fashion-mnist", 4, path=missing)
    msg = str(ei.value)
    assert str(missing) in msg and "does not exist" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "https://github.com/zalandoresearch/fashion-mnist" in msg
    assert "data.path" in msg
    assert isinstance(ei.value, FileNotFoundError) and isinstance(ei.value, DataError)


def test_fmnist_missing_one_file(tmp_path):
    make_fmnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    load_batch("fashion-mnist", 2, path=tmp_path)  # the train split is complete
    with pytest.raises(DataNotFoundError, match="has no t10k-labels-idx1-ubyte") as ei:
        load_batch("fashion-mnist", 2, path=tmp_path, split="test")
    assert "t10k-images-idx3-ubyte.gz" in str(ei.value)  # lists all expected names


@pytest.mark.parametrize("gz", [True, False])
def test_fmnist_bad_magic(tmp_path, gz):
    make_fmnist(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((20, 28, 28)), magic=1234, gz=gz)
    with pytest.raises(DataError) as ei:
        load_batch("fashion-mnist", 2, path=tmp_path)
    msg = str(ei.value)
    assert f"train-images-idx3-ubyte{suffix}" in msg
    assert "bad magic number 1234" in msg and "2051" in msg


def test_fmnist_images_and_labels_swapped(tmp_path):
    make_fmnist(tmp_path, gz=False)
    img = tmp_path / "train-images-idx3-ubyte"
    lab = tmp_path / "train-labels-idx1-ubyte"
    tmp = tmp_path / "swap"
    img.rename(tmp)
    lab.rename(img)
    tmp.rename(lab)
    with pytest.raises(DataError, match="images and labels swapped"):
        load_batch("fashion-mnist", 2, path=tmp_path)


@pytest.mark.parametrize("gz", [True, False])
def test_fmnist_truncated_content(tmp_path, gz):
    make_fmnist(tmp_path, gz=gz)
    write_idx(tmp_path / "train-images-idx3-ubyte",
              np.zeros((20, 28, 28)), gz=gz, cut=100)  # header says 20 images, 19.9 present
    with pytest.raises(DataError) as ei:
        load_batch("fashion-mnist", 2, path=tmp_path)  # even for a prefix that is present
    msg = str(ei.value)
    assert "train-images-idx3-ubyte" in msg and "truncated" in msg
    assert "20x28x28" in msg and str(16 + 20 * 784) in msg and str(16 + 20 * 784 - 100) in msg


def test_fmnist_truncated_gzip_stream(tmp_path):
    make_fmnist(tmp_path, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-200])  # cut inside the compressed stream
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        load_batch("fashion-mnist", 2, path=tmp_path)


def test_fmnist_header_shorter_than_header(tmp_path):
    make_fmnist(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: truncated IDX label file: 3 bytes"):
        load_batch("fashion-mnist", 2, path=tmp_path)


def test_fmnist_count_mismatch(tmp_path):
    make_fmnist(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(19))
    with pytest.raises(DataError, match="holds 20 images but .* holds 19 labels"):
        load_batch("fashion-mnist", 2, path=tmp_path)


def test_n_too_large_and_bad_arguments(tmp_path):
    make_fmnist(tmp_path)
    with pytest.raises(DataError, match=r"n=21 images requested but the Fashion-MNIST train split .* holds only 20"):
        load_batch("fashion-mnist", 21, path=tmp_path)
    with pytest.raises(DataError, match="holds only 20"):
        load_batch("fashion-mnist", 21, path=tmp_path, pick="random")
    with pytest.raises(DataError, match="valid splits: train, test"):
        load_batch("fashion-mnist", 2, path=tmp_path, split="val")
    with pytest.raises(DataError, match="valid picks: first, random"):
        load_batch("fashion-mnist", 2, path=tmp_path, pick="shuffle")
    with pytest.raises(DataError, match="n must be a positive int"):
        load_batch("fashion-mnist", 0, path=tmp_path)
    with pytest.raises(DataError, match="size must be"):
        load_batch("fashion-mnist", 2, path=tmp_path, size=(3, 3, 3))
    with pytest.raises(DataError, match="size must be positive"):
        load_batch("fashion-mnist", 2, path=tmp_path, size=0)
    with pytest.raises(DataError, match="num_classes=100 but fashion-mnist has 10"):
        load_batch("fashion-mnist", 2, path=tmp_path, num_classes=100)


def test_unknown_source():
    with pytest.raises(DataError) as ei:
        load_batch("imagenet", 4)
    msg = str(ei.value)
    assert "'imagenet'" in msg
    for s in SOURCES:
        assert s in msg
    assert isinstance(ei.value, ValueError)


# ---- CIFAR ----------------------------------------------------------------------------


def test_cifar10_first_images_span_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    (train_x, train_y), _ = make_cifar10(folder, per_batch=4)
    x, y = load_batch("cifar10", 6, path=folder)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == train_y[:6].tolist()
    # channel-major rows: 1024 red, 1024 green, 1024 blue, each row-major 32x32
    raw = train_x[:6].reshape(6, 3, 32, 32)
    mean, std = NORMALISATION["cifar10"]
    for c in range(3):
        want = (torch.from_numpy(raw[:, c]).float() / 255 - mean[c]) / std[c]
        torch.testing.assert_close(x[:, c], want, rtol=0, atol=1e-5)
    assert x[5, 2, 0, 1].item() == pytest.approx(
        (train_x[5, 2048 + 1] / 255 - 0.4465) / 0.2616, abs=1e-5)
    assert x[1, 0, 1, 0].item() == pytest.approx((train_x[1, 32] / 255 - 0.4914) / 0.2470, abs=1e-5)


def test_cifar10_parent_folder_test_split_random(tmp_path):
    (train_x, train_y), (test_x, test_y) = make_cifar10(tmp_path / "cifar-10-batches-py")
    _, y = load_batch("cifar10", 3, path=tmp_path, split="test")
    assert y.tolist() == test_y.tolist()
    x, y = load_batch("cifar10", 5, path=tmp_path, pick="random", seed=7)
    idx = np.sort(np.random.default_rng(7).choice(20, size=5, replace=False))
    assert y.tolist() == train_y[idx].tolist()
    got = unnormalise(x, "cifar10") * 255
    torch.testing.assert_close(got, torch.from_numpy(train_x[idx].reshape(5, 3, 32, 32)).float(),
                               rtol=0, atol=1e-3)
    x3, _ = load_batch("cifar10", 2, path=tmp_path, size=3)
    assert x3.shape == (2, 3, 3, 3)


def test_cifar10_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as ei:
        load_batch("cifar10", 2, path=tmp_path / "nope")
    msg = str(ei.value)
    assert str(tmp_path / "nope") in msg and "does not exist" in msg
    assert "data_batch_1" in msg and "data_batch_5" in msg and "cifar-10-batches-py" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg and "extract" in msg
    assert "data.path" in msg

    folder = tmp_path / "cifar-10-batches-py"
    make_cifar10(folder)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataNotFoundError, match=r"has no data_batch_4\. Expected"):
        load_batch("cifar10", 2, path=tmp_path)
    load_batch("cifar10", 2, path=tmp_path, split="test")

    make_cifar10(folder)
    with pytest.raises(DataError, match=r"n=21 images requested but the cifar10 train split .* holds only 20"):
        load_batch("cifar10", 21, path=folder)

    p = folder / "data_batch_1"
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(DataError, match=r"data_batch_1: not a readable CIFAR python pickle"):
        load_batch("cifar10", 2, path=folder)


def test_cifar_wrong_label_key(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    make_cifar10(folder)
    data = np.zeros((4, 3072), dtype=np.uint8)
    cifar_pickle(folder / "data_batch_1", data, [0] * 4, label_key=b"fine_labels")
    with pytest.raises(DataError, match=r"data_batch_1: the pickled dict has no b'labels' entry"):
        load_batch("cifar10", 2, path=folder)
    cifar_pickle(folder / "data_batch_1", np.zeros((4, 1024), dtype=np.uint8), [0] * 4)
    with pytest.raises(DataError, match=r"uint8 of shape \(N, 3072\)"):
        load_batch("cifar10", 2, path=folder)


def test_cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(3)
    tx = rng.integers(0, 256, size=(6, 3072), dtype=np.uint8)
    ty = [99, 0, 42, 7, 13, 64]
    cifar_pickle(folder / "train", tx, ty, label_key=b"fine_labels")
    cifar_pickle(folder / "test", tx[:2], [1, 2], label_key=b"fine_labels")
    x, y = load_batch("cifar100", 4, path=tmp_path)
    assert y.tolist() == ty[:4]
    mean, std = NORMALISATION["cifar100"]
    assert x[0, 1, 0, 0].item() == pytest.approx((tx[0, 1024] / 255 - mean[1]) / std[1], abs=1e-5)
    assert load_batch("cifar100", 2, path=folder, split="test")[1].tolist() == [1, 2]
    with pytest.raises(DataNotFoundError, match="cifar-100-python.tar.gz"):
        load_batch("cifar100", 2, path=tmp_path / "cifar-10-batches-py")


# ---- noise ----------------------------------------------------------------------------


def test_noise_is_seeded():
    x, y = load_batch("noise", 8, seed=4)
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    gen = torch.Generator().manual_seed(4)
    torch.testing.assert_close(x, torch.randn(8, 3, 32, 32, generator=gen), rtol=0, atol=0)
    assert torch.equal(y, torch.randint(0, 10, (8,), generator=gen))
    x2, y2 = load_batch("noise", 8, seed=4)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, load_batch("noise", 8, seed=5)[0])
    xs, ys = load_batch("noise", 64, size=3, num_classes=3)
    assert xs.shape == (64, 3, 3, 3) and set(ys.tolist()) == {0, 1, 2}


# ---- the real Fashion-MNIST, when installed -------------------------------------------


@pytest.mark.skipif(not (FMNIST / "train-labels-idx1-ubyte.gz").is_file(),
                    reason=f"Fashion-MNIST is not installed in {FMNIST} "
                           "(apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    x, y = load_batch("fashion-mnist", 16)
    assert x.shape == (16, 3, 28, 28) and y.shape == (16,)
    assert y[0].item() == 9  # the first training image is an ankle boot
    with gzip.open(FMNIST / "train-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(16 + 784), dtype=np.uint8)[16:].reshape(28, 28)
    torch.testing.assert_close(unnormalise(x, "fashion-mnist")[0, 2] * 255,
                               torch.from_numpy(raw.copy()).float(), rtol=0, atol=1e-3)
    xt, yt = load_batch("fashion-mnist", 16, split="test", size=3)
    assert xt.shape == (16, 3, 3, 3) and yt.shape == (16,)
    assert 0 <= int(yt.min()) and int(yt.max()) <= 9


# ---- ImageNet16-120 (NAS-Bench-201's downsampled-ImageNet pickles) ----------------------


def imagenet16_pickle(path: Path, data: np.ndarray, labels, *, keys=("data", "labels", "mean")) -> None:
    """One Downsampled-ImageNet 16x16 batch as xautodl reads it: a pickled dict (str keys) with
    'data' (N, 768) uint8 channel-planar, 'labels' (1-based ImageNet classes) and 'mean'."""
    d = {"data": data, "labels": list(map(int, labels)), "mean": np.zeros(768, dtype=np.float64)}
    with open(path, "wb") as f:
        pickle.dump({k: d[k] for k in keys}, f, protocol=2)


def make_imagenet16(folder: Path, per_batch: int = 6, n_val: int = 5, seed: int = 0):
    """ImageNet16/ with train_data_batch_1..10 and val_data; labels drawn from 1..1000 so that
    about half are outside 1..120 (NB201 drops those). Returns the kept (images, labels) per split."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kept = {"train": ([], []), "test": ([], [])}
    names = [("train", f"train_data_batch_{i}", per_batch) for i in range(1, 11)] + [("test", "val_data", n_val)]
    for split, name, n in names:
        data = rng.integers(0, 256, size=(n, 768), dtype=np.uint8)
        labels = np.where(rng.random(n) < 0.5, rng.integers(1, 121, n), rng.integers(121, 1001, n))
        labels[0] = 120 if name.endswith("_1") else labels[0]  # the last kept class
        imagenet16_pickle(folder / name, data, labels)
        keep = labels <= 120
        kept[split][0].append(data[keep].reshape(-1, 3, 16, 16))
        kept[split][1].append(labels[keep] - 1)
    return {k: (np.concatenate(x), np.concatenate(y)) for k, (x, y) in kept.items()}


def test_imagenet16_keeps_classes_1_to_120_in_file_order(tmp_path):
    folder = tmp_path / "ImageNet16"
    ref = make_imagenet16(folder)
    tx, ty = ref["train"]
    n = len(tx) - 2  # spans several batch files
    x, y = load_batch("imagenet16-120", n, path=tmp_path)  # the parent of ImageNet16/ works too
    assert x.shape == (n, 3, 16, 16) and x.dtype == torch.float32
    assert y.tolist() == ty[:n].tolist() and y.min() >= 0 and y.max() <= 119 and 119 in y.tolist()
    mean, std = NORMALISATION["imagenet16-120"]
    assert mean == pytest.approx((122.68 / 255, 116.66 / 255, 104.01 / 255))
    assert std == pytest.approx((63.22 / 255, 61.26 / 255, 65.09 / 255))
    want = (torch.from_numpy(tx[:n].astype(np.float32)) / 255 - torch.tensor(mean).view(1, 3, 1, 1)) \
        / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(x, want, rtol=0, atol=1e-5)
    vx, vy = load_batch("imagenet16-120", 2, path=folder, split="test")  # test = val_data
    assert vy.tolist() == ref["test"][1][:2].tolist()
    rx, ry = load_batch("imagenet16-120", 5, path=folder, pick="random", seed=3)
    idx = np.sort(np.random.default_rng(3).choice(len(tx), size=5, replace=False))
    assert ry.tolist() == ty[idx].tolist()
    assert load_batch("imagenet16-120", 4, path=folder, size=8)[0].shape == (4, 3, 8, 8)
    with pytest.raises(DataError, match=r"n=999 images requested but the imagenet16-120 train split .* holds only"):
        load_batch("imagenet16-120", 999, path=folder)
    with pytest.raises(DataError, match="num_classes=10 but imagenet16-120 has 120 classes"):
        load_batch("imagenet16-120", 2, path=folder, num_classes=10)
    load_batch("imagenet16-120", 2, path=folder, num_classes=120)


def test_imagenet16_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"does not exist.*train_data_batch_1, .*train_data_batch_10.*image-net.org"):
        load_batch("imagenet16-120", 2, path=tmp_path / "nowhere")
    folder = tmp_path / "ImageNet16"
    make_imagenet16(folder)
    (folder / "val_data").unlink()
    with pytest.raises(DataNotFoundError, match=r"has no val_data"):
        load_batch("imagenet16-120", 2, path=folder, split="test")
    p = folder / "train_data_batch_1"
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(DataError, match=r"train_data_batch_1: not a readable ImageNet16 pickle"):
        load_batch("imagenet16-120", 2, path=folder)
    imagenet16_pickle(p, np.zeros((3, 3072), dtype=np.uint8), [1, 2, 3])
    with pytest.raises(DataError, match=r"uint8 of shape \(N, 768\).*\(3, 3072\).*ImageNet32"):
        load_batch("imagenet16-120", 2, path=folder)
    imagenet16_pickle(p, np.zeros((3, 768), dtype=np.uint8), [0, 1, 2])
    with pytest.raises(DataError, match=r"a label is 0; ImageNet16 labels are 1-based"):
        load_batch("imagenet16-120", 2, path=folder)
    imagenet16_pickle(p, np.zeros((3, 768), dtype=np.uint8), [1, 2, 3], keys=("data",))
    with pytest.raises(DataError, match=r"no 'labels' entry"):
        load_batch("imagenet16-120", 2, path=folder)


# ---- a folder of RGB images ------------------------------------------------------------


def write_png(path: Path, arr: np.ndarray, mode: str | None = None) -> np.ndarray:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path)
    return arr


def _imagenet_norm(img_hwc: np.ndarray) -> torch.Tensor:
    mean, std = NORMALISATION["image-folder"]
    t = torch.from_numpy(img_hwc.transpose(2, 0, 1).astype(np.float32)) / 255
    return (t - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def test_image_folder_flat_sorted_with_zero_labels(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {name: write_png(tmp_path / name, rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
            for name in ("b.png", "a.PNG", "c.png")}
    (tmp_path / "notes.txt").write_text("not an image")
    write_png(tmp_path / ".hidden.png", np.zeros((6, 5, 3), dtype=np.uint8))
    x, y = load_batch("image-folder", 3, path=tmp_path)
    assert x.shape == (3, 3, 6, 5) and y.tolist() == [0, 0, 0]
    assert NORMALISATION["image-folder"] == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    for k, name in enumerate(("a.PNG", "b.png", "c.png")):  # sorted file order
        torch.testing.assert_close(x[k], _imagenet_norm(imgs[name]), rtol=0, atol=1e-5)
    xr, _ = load_batch("image-folder", 2, path=tmp_path, pick="random", seed=1)
    order = ("a.PNG", "b.png", "c.png")
    idx = np.sort(np.random.default_rng(1).choice(3, size=2, replace=False))
    torch.testing.assert_close(xr[1], _imagenet_norm(imgs[order[idx[1]]]), rtol=0, atol=1e-5)
    xs, _ = load_batch("image-folder", 2, path=tmp_path, size=4)
    assert xs.shape == (2, 3, 4, 4)
    with pytest.raises(DataError, match=r"n=4 images requested but image-folder .* holds only 3"):
        load_batch("image-folder", 4, path=tmp_path)


def test_image_folder_class_subfolders_grey_rgba_jpeg_and_sizes(tmp_path):
    write_png(tmp_path / "cat" / "1.png", np.full((8, 8), 200, dtype=np.uint8), mode="L")  # grey -> RGB
    write_png(tmp_path / "cat" / "deep" / "2.png", np.zeros((8, 8, 4), dtype=np.uint8), mode="RGBA")
    from PIL import Image

    (tmp_path / "dog").mkdir()
    Image.fromarray(np.full((12, 10, 3), 90, dtype=np.uint8)).save(tmp_path / "dog" / "0.jpg", quality=95)
    (tmp_path / "empty").mkdir()  # no images: not a class
    with pytest.raises(DataError, match=r"0.jpg is 12x10 but 1.png is 8x8 .*set data.size"):
        load_batch("image-folder", 3, path=tmp_path)
    x, y = load_batch("image-folder", 3, path=tmp_path, size=8)
    assert y.tolist() == [0, 0, 1] and x.shape == (3, 3, 8, 8)
    torch.testing.assert_close(x[0], _imagenet_norm(np.full((8, 8, 3), 200, dtype=np.uint8)), rtol=0, atol=1e-5)
    assert abs(x[2, 0].mean().item() - (90 / 255 - 0.485) / 0.229) < 0.05  # jpeg, resized
    with pytest.raises(DataError, match=r"num_classes=1 but image-folder .* has 2 class subfolders \(cat, dog\)"):
        load_batch("image-folder", 2, path=tmp_path, size=8, num_classes=1)
    write_png(tmp_path / "stray.png", np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"holds images both directly \(stray.png, ...\) and in subfolders"):
        load_batch("image-folder", 2, path=tmp_path)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="image-folder needs data.path"):
        load_batch("image-folder", 2)
    with pytest.raises(DataNotFoundError, match=r"does not exist; set data.path to a folder of .png/.jpg"):
        load_batch("image-folder", 2, path=tmp_path / "nowhere")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match=r"no images \(files ending in .png, .jpg, .jpeg\)"):
        load_batch("image-folder", 2, path=tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken.png: not a readable image"):
        load_batch("image-folder", 1, path=tmp_path)


def test_load_batch_with_files(tmp_path):
    """``with_files=True`` adds the picked image paths in batch order (image-folder), else None."""
    from PIL import Image

    from search_spaces.data import load_batch

    rng = np.random.default_rng(3)
    for c in ("b", "a"):
        (tmp_path / c).mkdir()
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(tmp_path / c / f"im{k}.png")
    x, y, files = load_batch("image-folder", 4, path=str(tmp_path), pick="random", seed=2, with_files=True)
    everything = sorted(tmp_path.rglob("*.png"), key=lambda p: p.relative_to(tmp_path).as_posix())
    x_all, _ = load_batch("image-folder", 6, path=str(tmp_path))
    assert len(files) == 4 and files == sorted(files, key=everything.index)
    assert torch.equal(x, x_all[[everything.index(f) for f in files]])
    assert y.tolist() == [0 if f.parent.name == "a" else 1 for f in files]
    x2, y2 = load_batch("image-folder", 4, path=str(tmp_path), pick="random", seed=2)  # default unchanged
    assert torch.equal(x2, x) and torch.equal(y2, y)
    xn, yn, none = load_batch("noise", 2, size=8, with_files=True)
    assert none is None and xn.shape == (2, 3, 8, 8)
