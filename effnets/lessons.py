"""Short guided lessons, one per page: what to try, in order, and the formulas to keep in mind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    title: str
    steps: tuple[str, ...]
    formulas: tuple[str, ...] = ()


LESSONS: dict[str, Lesson] = {
    "blocks": Lesson(
        "Lesson: where the cost of a convolution goes",
        (
            "Start with **Standard convolution**, C_in = 32, C_out = 64, k = 3 on 56 x 56. Note the MACs: every "
            "output value costs k² · C_in multiply-accumulates.",
            "Switch to **Grouped convolution** and set groups g = 2, 4, 8: parameters and MACs fall to 1/g. Look at "
            "the diagram: the groups never see each other's channels.",
            "Switch to **Depthwise-separable**: the *Compare blocks* tab shows about 8x fewer MACs at k = 3. The "
            "*Formula* tab shows why: 1/C_out + 1/k² of the standard conv, and that the 1x1 conv is now almost all "
            "of the cost.",
            "Try **ShuffleNet V1**: the 1x1 convs are grouped too, and a channel shuffle lets groups mix.",
            "Try **MBConv** and tick *Also count: element-wise*: the SE gate and the residual add are cheap in MACs "
            "but they are extra passes over memory, which the Model Zoo's latency measurements will show.",
            "Try **Dilated** with d = 1, 2, 4 and open *Sampling*: same weights, same MACs, wider receptive field.",
            "Try **Deformable**: the MACs of the conv are those of a regular conv, but the *Cross-check* tab shows "
            "that tracers count it as 0 unless told, and the *Sampling* tab shows why it is slow: it reads "
            "scattered, interpolated positions.",
        ),
        (
            r"\text{standard: } k^2 C_{in} C_{out} H_{out} W_{out}",
            r"\text{grouped: } k^2 \tfrac{C_{in}}{g} C_{out} H_{out} W_{out}",
            r"\text{depthwise-separable: } (k^2 C_{in} + C_{in} C_{out}) H_{out} W_{out}",
            r"H_{out} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1",
        ),
    ),
    "kernels": Lesson(
        "Lesson: what trained networks learn",
        (
            "Keep **efficientnet_lite0** with trained weights. The layer picker starts on a stride-2 depthwise layer: "
            "most of its kernels are round blobs, Gaussians. Open *Frequency response*: they keep low frequencies.",
            "Open *Strided vs not*: stride-2 depthwise kernels are far more Gaussian than stride-1 ones. A low-pass "
            "filter before subsampling is what the sampling theorem asks for; the network learned it.",
            "Pick a stride-1 depthwise layer in the middle of the network: more edge detectors (Sobel-like, "
            "Laplacian-like) and some identities (a single bright centre: the layer passes its input on).",
            "Switch the weights to *random init*: the same views show noise, almost all 'other'.",
            "Open *Fixed kernels*: VGNet replaces the learned blurs by a fixed Gaussian (a buffer, not a parameter) "
            "and, in VGNetF, every depthwise kernel by a fixed bank of edge detectors and blurs.",
        ),
        (
            r"\text{similarity}(k, t) = \max_{\text{rotations, flips}} \frac{|\langle k, t \rangle|}{\|k\|\,\|t\|}",
            r"G_\sigma(x, y) \propto e^{-(x^2 + y^2) / 2\sigma^2}",
        ),
    ),
    "infer": Lesson(
        "Lesson: a real network on a real photo",
        (
            "Keep the sample photo *chelsea* and **efficientnet_lite0**: the top-5 are all cats. Switch to *coffee*: "
            "espresso.",
            "Open *Preprocessing*: the photo is resized, centre-cropped and normalised exactly as the network was "
            "trained (Lite: (x - 127) / 128; torchvision models: ImageNet mean and std). The statistics show it.",
            "Open *Feature maps* and walk from the stem to the last stage: edges and colours first, then textures, "
            "then maps that light up on the cat only, at ever lower resolution.",
            "Open *Layer similarity*: inside a stage, consecutive blocks' maps are very similar (high CKA) - the "
            "residual blocks mostly pass their input on. VGNet turns that into half-identity blocks.",
            "Open *Latency*: compare the median with the MACs. Try another model with fewer MACs but more "
            "depthwise layers, and channels_last: the latency does not follow the MACs.",
            "Upload your own photo - or a broken file: the page says what is wrong and keeps working.",
        ),
        (r"\text{latency} \neq \frac{\text{MACs}}{\text{peak MAC/s}}",),
    ),
}
