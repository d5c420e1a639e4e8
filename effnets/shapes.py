"""Shape arithmetic shared by the cost model and the modules: output sizes and padding (PyTorch's and TensorFlow's
rules)."""

from __future__ import annotations


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    """An int or an (h, w) pair as (h, w)."""
    if isinstance(v, tuple | list):
        a, b = v
        return int(a), int(b)
    return int(v), int(v)


def out_size(size: int, k: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a conv or pool along one axis, PyTorch's rule (ceil_mode as in nn.MaxPool2d)."""
    span = size + 2 * padding - dilation * (k - 1) - 1
    if ceil_mode:
        n = -(-span // stride) + 1
        # PyTorch drops a last window that would start in the right padding.
        if (n - 1) * stride >= size + padding:
            n -= 1
        return n
    return span // stride + 1


def same_padding(k: int, dilation: int = 1) -> int:
    """Symmetric padding that keeps the size at stride 1 for odd kernels: dilation * (k - 1) // 2."""
    return dilation * (k - 1) // 2


def tf_same_out(size: int, stride: int) -> int:
    """TensorFlow 'SAME' output length: ceil(size / stride), whatever the kernel."""
    return -(-size // stride)


def tf_same_pad(size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) along one axis: the extra pixel goes after (bottom/right)."""
    total = max((tf_same_out(size, stride) - 1) * stride + dilation * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2
