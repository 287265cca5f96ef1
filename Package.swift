// swift-tools-version:6.0
// swift-train: pre-training LLaMA-style models on the CPU with memory-efficient optimizers.
// Layers (each knows only the ones below it):
//   SwiftTrainCLI (executable `swift-train`) → Training → Optimizers, LlamaModel, TextData → Tensors
//   Training → Distributed (Open MPI, loaded at run time under mpirun only)
//   Tensors → COpenBLAS (system OpenBLAS + its LAPACK), WideTiles (attention's AVX-512 tiles);
//   TextData → SentencePieceShim (C++ over libsentencepiece)
import PackageDescription

// Release builds target AVX2 + FMA on x86-64 so SIMD loops use ymm registers and fused
// multiply-adds (see README "Performance"); debug builds stay portable.
#if arch(x86_64)
let fastMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]
// WideTiles alone is built for AVX-512 (attention's 16-lane tiles); Tensors calls it only on
// processors that report AVX-512, so the binary still runs on AVX2-only machines. Release
// only: at -Onone a module also defines shared generic code the linker may pick for the
// others (scripts/test.sh checks the release object defines none).
let wideMath: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512"], .when(configuration: .release))]
#else
let fastMath: [SwiftSetting] = []
let wideMath: [SwiftSetting] = []
#endif

let package = Package(
    name: "swift-train",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "swift-train", targets: ["SwiftTrainCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "SentencePieceShim",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train")]
        ),
        .target(
            name: "WideTiles",
            swiftSettings: wideMath
        ),
        .target(
            name: "Tensors",
            dependencies: ["COpenBLAS", "WideTiles"],
            swiftSettings: fastMath,
            linkerSettings: [.linkedLibrary("m")]
        ),
        .target(
            name: "Distributed",
            swiftSettings: fastMath
        ),
        .target(
            name: "TextData",
            dependencies: ["SentencePieceShim"],
            swiftSettings: fastMath
        ),
        .target(
            name: "LlamaModel",
            dependencies: ["Tensors"],
            swiftSettings: fastMath
        ),
        .target(
            name: "Optimizers",
            dependencies: ["Tensors", "LlamaModel"],
            swiftSettings: fastMath
        ),
        .target(
            name: "Training",
            dependencies: ["Tensors", "TextData", "LlamaModel", "Optimizers", "Distributed"],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "SwiftTrainCLI",
            dependencies: [
                "Tensors", "TextData", "LlamaModel", "Optimizers", "Training", "Distributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: fastMath
        ),
        .target(name: "GradientCheck", dependencies: ["Tensors"], path: "Tests/GradientCheck"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "GradientCheck"]),
        .testTarget(name: "TextDataTests", dependencies: ["TextData"]),
        .testTarget(name: "LlamaModelTests", dependencies: ["LlamaModel", "Tensors", "GradientCheck"]),
        .testTarget(name: "OptimizersTests", dependencies: ["Optimizers", "LlamaModel", "Tensors"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TextData", "LlamaModel", "Optimizers", "Tensors", "Distributed"]),
        .testTarget(name: "CLITests", dependencies: ["SwiftTrainCLI"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
