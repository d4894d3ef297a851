package dev.deploytool.core;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A bundle folder in the assets: its config and labels, loaded and checked against each other. */
public final class ModelBundle {
    public static final String DEFAULT_FOLDER = "bundle";

    public final String folder;
    public final BundleConfig config;
    public final List<String> labels;

    public ModelBundle(String folder, BundleConfig config, List<String> labels) {
        if (labels.size() != config.classes) {
            throw new IllegalArgumentException(config.labelsFile + " has " + labels.size()
                    + " labels but the model gives " + config.classes + " classes");
        }
        this.folder = folder;
        this.config = config;
        this.labels = Collections.unmodifiableList(new ArrayList<>(labels));
    }

    /** Loads {@code folder/bundle.properties} and its labels file from {@code assets}. */
    public static ModelBundle load(AssetSource assets, String folder) throws IOException {
        BundleConfig config;
        try (InputStream stream = assets.open(folder + "/bundle.properties")) {
            config = BundleConfig.read(stream);
        }
        try (InputStream stream = assets.open(folder + "/" + config.labelsFile)) {
            return new ModelBundle(folder, config, readLabels(stream));
        }
    }

    /** Path of a bundle file inside the assets. */
    public String path(String name) {
        return folder + "/" + name;
    }

    /** One label per line, UTF-8; a trailing empty line is ignored. */
    public static List<String> readLabels(InputStream stream) throws IOException {
        List<String> labels = new ArrayList<>();
        BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8));
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
            labels.add(line);
        }
        while (!labels.isEmpty() && labels.get(labels.size() - 1).isEmpty()) {
            labels.remove(labels.size() - 1);
        }
        return labels;
    }

    /** All bytes of a bundle file. */
    public byte[] readBytes(AssetSource assets, String name) throws IOException {
        try (InputStream stream = assets.open(path(name))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            for (int n = stream.read(buffer); n > 0; n = stream.read(buffer)) {
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        }
    }
}
