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
            "Keep the sample photo *chelsea* and **efficientnet_lite0**: the top three are cats (tiger cat, "
            "Egyptian cat, tabby). Switch to *coffee*: espresso. Then *astronaut*: ImageNet has no class for a "
            "person, so the model names the nearest object it knows.",
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
    "scaling": Lesson(
        "Lesson: scaling a network up (and down) with one number",
        (
            "Start with **EfficientNet-B0** and φ = 0. Note its MACs (0.39G) and the *Stage table*: it is the "
            "paper's Table 1, each row with its exact share of the cost.",
            "Before moving anything, open *Predict* and guess B0's MACs at φ = 1. The rule says α·β²·γ² ≈ 1.92 times "
            "more. Reveal: the real, rounded network costs 2.57 times more.",
            "Move φ to 1 and open the *Stage table*: ceil(1.2 × 1) = 2, so the one-block stages doubled. Depth is "
            "rounded up to whole blocks and channels to multiples of 8; *Law vs exact* shows how far that moves "
            "the cost from (α·β²·γ²)^φ at every φ, negative ones included.",
            "Switch to *separate multipliers* and set w = 2 with d = r = 1: the cost grows about 4x (w²), the "
            "parameters too. Set r = 2 instead: the cost grows 4x, the parameters not at all. *Multipliers* shows "
            "each law alone.",
            "Open *Why B1-B7 differ*: the released models are not α^φ, β^φ, γ^φ; compare the two columns, and "
            "read which parts are documented and which are only inferred from the numbers.",
            "Pick **MobileNetV1** and move w (that is α) and r (that is ρ): cost ∝ α²ρ², params ∝ α² only. Open "
            "*Params vs MACs map* to see where your network lands, and *Published accuracy* for what each point "
            "bought.",
            "Open *Activation memory* and raise the batch: memory grows with N and r², which is why the large "
            "EfficientNets train with small batches.",
        ),
        (
            r"d = \alpha^{\phi},\quad w = \beta^{\phi},\quad r = \gamma^{\phi},\quad "
            r"\alpha \beta^2 \gamma^2 \approx 2",
            r"\text{MACs} \propto d \cdot w^2 \cdot r^2 = (\alpha \beta^2 \gamma^2)^{\phi}",
            r"\text{channels} = \max(8, 8\lfloor c\,w/8 + 1/2 \rfloor) \; (+8 \text{ if that lost } > 10\%), "
            r"\quad \text{blocks} = \lceil n\,d \rceil",
        ),
    ),
    "design": Lesson(
        "Lesson: design spaces, not single networks",
        (
            "Start with **RegNetX-200MF**. The plot shows the whole idea: a straight line of widths (u_j = w0 + "
            "wa·j) snapped to a geometric grid (powers of wm), multiples of 8; equal widths form the stages.",
            "Change wa and wm and watch the stages appear and merge; the *Stage table* follows. Try wm = 1: the "
            "page says why it is not allowed.",
            "Pick **RegNetX-400MF** and open *Both roundings*: pycls (the paper's code) and torchvision round "
            "the last stage to 384 and 400 channels - two different networks under one name.",
            "Open *MobileNet grid*: parameters depend on α only (rows), MACs on α² and ρ² (both).",
            "Open *ShuffleNet groups*: as g grows, the 1x1 convs get cheaper and the stages wider (stage 2: 144 "
            "channels at g = 1, 384 at g = 8) at about the same MACs.",
            "Open *Random samples*: 200 networks drawn from the space. Their cost spans orders of magnitude; the "
            "RegNet paper compares design spaces by such distributions, not by single networks.",
        ),
        (
            r"u_j = w_0 + w_a\, j,\quad s_j = \mathrm{round}\left(\log_{w_m} \frac{u_j}{w_0}\right),\quad "
            r"w_j = 8 \left\lfloor \frac{w_0\, w_m^{s_j}}{8} \right\rceil",
            r"\text{MACs}_{1\times 1,\,g\text{ groups}} = \frac{C_{in} C_{out}}{g} H W",
        ),
    ),
    "zoo": Lesson(
        "Lesson: FLOPs are not latency",
        (
            "Open *Accuracy vs MACs*: the efficient networks sit far to the left of ResNet and Xception at similar "
            "accuracy. The ringed points are the Pareto front by MACs.",
            "Press *Measure latency* (a minute on a CPU). Open *Latency vs MACs*: if latency followed MACs every "
            "point would sit on the dotted line. Which ones do not, and why? The outliers are listed with reasons.",
            "Read the outliers: models with many depthwise convs, SE gates and swish move many bytes per MAC (low "
            "arithmetic intensity), so they run far below the device's peak.",
            "Open *Accuracy vs latency*: is the Pareto front by measured latency the same set of models as the one by "
            "MACs? The caption under the chart compares the two.",
            "Switch *Eager* on and off, or channels_last: the same network, the same MACs, a different latency.",
        ),
        (
            r"\text{latency} \approx \max\left(\frac{\text{MACs}}{\text{peak MAC/s}},\;"
            r"\frac{\text{bytes moved}}{\text{bandwidth}}\right) + \text{overheads}",
        ),
    ),
    "latency": Lesson(
        "Lesson: the roofline and ShuffleNetV2's guidelines",
        (
            "Keep *matched MACs* and press *Measure*: every block does about the same arithmetic. Do the latencies "
            "follow? The sentence under the table names the fastest and the slowest, and says if they do not differ.",
            "Open *Roofline*: the slanted line is what memory bandwidth allows, the flat one what the arithmetic "
            "units allow. Depthwise-heavy blocks sit at low arithmetic intensity, under the slanted line: "
            "memory-bound.",
            "Open *Guidelines G1-G4* and check MBConv and ShuffleNet V2: which guidelines does each follow?",
            "Press *Measure G1-G4*: the same MACs, one layer pair following the guideline and one breaking it. "
            "The table says, for each pair, whether breaking the guideline made it slower on this very device, or "
            "made no measurable difference.",
        ),
        (
            r"\text{intensity} = \frac{\text{MACs}}{\text{bytes moved}} \qquad "
            r"\text{attainable} = \min(\text{peak},\; \text{intensity} \times \text{bandwidth})",
        ),
    ),
    "builder": Lesson(
        "Lesson: design your own network and scale it",
        (
            "Start from **EfficientNet-B0**: the table is its stage table (Table 1 of the paper), the numbers are "
            "exact, and the link in the address bar now holds the whole design.",
            "Change stage 2's kernel from 3 to 5: *Compared with the start* shows that only that stage changed and by "
            "how much (a depthwise conv's params grow with k²).",
            "Give a grouped conv 30 output channels and 4 groups: the line says why it cannot be built; the stages "
            "before it are still counted.",
            "Scale by φ = 1 with α = 1.2, β = 1.1, γ = 1.15: every row's widths are rounded to multiples of 8 and "
            "every block row's repeats rounded up; compare with the Scaling Lab's B1.",
            "Download the Python file: it builds your network with torch only and prints the same parameter count.",
        ),
        (r"	ext{FLOPs} \propto d \cdot w^2 \cdot r^2", r"d = lpha^\phi,\ w = eta^\phi,\ r = \gamma^\phi"),
    ),
    "inspector": Lesson(
        "Lesson: count a network you did not build",
        (
            "Type `torchvision:resnet50`: the counts come from tracing the real torchvision module on the meta device "
            "(no weights, no download) with the same rules as every effnets page.",
            "Try `timm:convnext_atto` and tick *Also count: layer norm*: ConvNeXt's extras are layer norms and GELUs, "
            "not batch norms.",
            "Open *Diff two networks* and pick *RepVGG-A0 training vs deploy*: the same function with fewer params "
            "and MACs, stage by stage.",
            "Export a network with `python -m effnets export efficientnet_b0 --format onnx -o b0.onnx` and upload "
            "it: the ONNX counts equal the registry's.",
        ),
    ),
}
