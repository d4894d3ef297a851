package dev.deploytool.core;

import java.io.IOException;
import java.io.InputStream;

/** Where bundle files come from: the APK's assets on a phone, a folder in the JVM tests. */
public interface AssetSource {
    /** Opens the file at {@code path} (relative to the assets root). */
    InputStream open(String path) throws IOException;

    /** Decodes the PNG at {@code path} to 8-bit ARGB pixels, with no colour conversion. */
    RgbImage decodeImage(String path) throws IOException;
}
