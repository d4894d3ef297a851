package dev.deploytool.demo;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;
import dev.deploytool.core.InferenceEngine;
import dev.deploytool.core.TensorSpec;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;

/**
 * The core's InferenceEngine on LiteRT's Interpreter: the model memory-mapped from the APK (it
 * is stored uncompressed), input and output types, shapes, scales and zero points read from the
 * interpreter at run time.
 */
final class LiteRtEngine implements InferenceEngine, AutoCloseable {
    private final Interpreter interpreter;
    private final TensorSpec input;
    private final TensorSpec output;
    private final ByteBuffer inputBuffer;
    private final ByteBuffer outputBuffer;

    LiteRtEngine(AssetManager assets, String path, int threads) throws IOException {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IOException("big-endian devices are not supported");
        }
        Interpreter.Options options = new Interpreter.Options().setNumThreads(threads);
        interpreter = new Interpreter(map(assets, path), options);
        input = spec(interpreter.getInputTensor(0));
        output = spec(interpreter.getOutputTensor(0));
        inputBuffer = ByteBuffer.allocateDirect(input.byteSize()).order(ByteOrder.nativeOrder());
        outputBuffer = ByteBuffer.allocateDirect(output.byteSize()).order(ByteOrder.nativeOrder());
    }

    private static MappedByteBuffer map(AssetManager assets, String path) throws IOException {
        try (AssetFileDescriptor descriptor = assets.openFd(path);
             FileInputStream stream = new FileInputStream(descriptor.getFileDescriptor());
             FileChannel channel = stream.getChannel()) {
            return channel.map(FileChannel.MapMode.READ_ONLY, descriptor.getStartOffset(),
                    descriptor.getDeclaredLength());
        }
    }

    private static TensorSpec spec(Tensor tensor) {
        TensorSpec.DType dtype;
        DataType type = tensor.dataType();
        if (type == DataType.FLOAT32) {
            dtype = TensorSpec.DType.FLOAT32;
        } else if (type == DataType.INT8) {
            dtype = TensorSpec.DType.INT8;
        } else if (type == DataType.UINT8) {
            dtype = TensorSpec.DType.UINT8;
        } else {
            throw new IllegalStateException("tensor type " + type + " is not supported by the app");
        }
        Tensor.QuantizationParams quantization = tensor.quantizationParams();
        return new TensorSpec(dtype, tensor.shape(), quantization.getScale(), quantization.getZeroPoint());
    }

    @Override
    public TensorSpec inputSpec() {
        return input;
    }

    @Override
    public TensorSpec outputSpec() {
        return output;
    }

    @Override
    public byte[] run(byte[] bytes) {
        inputBuffer.clear();
        inputBuffer.put(bytes);
        inputBuffer.rewind();
        outputBuffer.clear();
        interpreter.run(inputBuffer, outputBuffer);
        outputBuffer.rewind();
        byte[] result = new byte[outputBuffer.remaining()];
        outputBuffer.get(result);
        return result;
    }

    @Override
    public void close() {
        interpreter.close();
    }
}
