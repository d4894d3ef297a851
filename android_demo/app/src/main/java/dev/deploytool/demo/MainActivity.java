package dev.deploytool.demo;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.os.Bundle;
import android.provider.MediaStore;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.TextView;
import dev.deploytool.core.Classification;
import dev.deploytool.core.Classifier;
import dev.deploytool.core.ModelBundle;
import dev.deploytool.core.Prediction;
import dev.deploytool.core.RgbImage;
import dev.deploytool.core.SelfTest;
import java.io.InputStream;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Classifies the bundled sample images and camera pictures with the bundled model, showing the
 * top-3 labels, scores and interpreter time; "Self-test" runs the golden samples and reports
 * parity with what deploytool measured on the desktop.
 */
public class MainActivity extends Activity {
    private static final int TAKE_PICTURE = 1;
    private static final int TOP_K = 3;

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private AndroidAssets assets;
    private ModelBundle bundle;
    private LiteRtEngine engine;
    private Classifier classifier;
    private int sample = -1;

    private TextView modelView;
    private ImageView imageView;
    private TextView resultView;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        modelView = findViewById(R.id.model);
        imageView = findViewById(R.id.image);
        resultView = findViewById(R.id.result);
        Button next = findViewById(R.id.next_sample);
        Button camera = findViewById(R.id.camera);
        Button selfTest = findViewById(R.id.self_test);
        assets = new AndroidAssets(getAssets());
        try {
            bundle = ModelBundle.load(assets, ModelBundle.DEFAULT_FOLDER);
            engine = new LiteRtEngine(getAssets(), bundle.path(bundle.config.modelFile), 2);
            classifier = new Classifier(bundle, engine);
            modelView.setText(bundle.config.toString());
        } catch (Exception e) {
            if (e instanceof java.io.FileNotFoundException) {
                modelView.setText(R.string.no_bundle);
            } else {
                modelView.setText("Cannot load the bundled model: " + e.getMessage());
            }
            next.setEnabled(false);
            camera.setEnabled(false);
            selfTest.setEnabled(false);
            return;
        }
        next.setOnClickListener(v -> showNextSample());
        camera.setOnClickListener(v -> startActivityForResult(new Intent(MediaStore.ACTION_IMAGE_CAPTURE), TAKE_PICTURE));
        selfTest.setOnClickListener(v -> runSelfTest());
        showNextSample();
    }

    private void showNextSample() {
        sample = (sample + 1) % bundle.config.goldens.size();
        String path = bundle.path(bundle.config.goldens.get(sample).image);
        try (InputStream stream = getAssets().open(path)) {
            Bitmap bitmap = BitmapFactory.decodeStream(stream);
            classify(bitmap, "sample " + sample);
        } catch (Exception e) {
            resultView.setText(path + ": " + e.getMessage());
        }
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        super.onActivityResult(requestCode, resultCode, data);
        if (requestCode == TAKE_PICTURE && resultCode == RESULT_OK && data != null && data.getExtras() != null) {
            Object picture = data.getExtras().get("data");
            if (picture instanceof Bitmap) {
                classify((Bitmap) picture, "camera picture");
            }
        }
    }

    private void classify(Bitmap bitmap, String what) {
        imageView.setImageBitmap(bitmap);
        RgbImage image = AndroidAssets.toRgbImage(bitmap);
        worker.execute(() -> {
            String text;
            try {
                Classification result = classifier.classify(image, TOP_K);
                StringBuilder lines = new StringBuilder(what).append('\n');
                for (Prediction prediction : result.top) {
                    lines.append(String.format(Locale.ROOT, "%-20s %6.1f %%%n", prediction.label, 100 * prediction.score));
                }
                lines.append(String.format(Locale.ROOT, "inference %.2f ms", result.inferenceMillis()));
                text = lines.toString();
            } catch (Exception e) {
                text = "inference failed: " + e.getMessage();
            }
            String shown = text;
            runOnUiThread(() -> resultView.setText(shown));
        });
    }

    private void runSelfTest() {
        resultView.setText("running the self-test…");
        worker.execute(() -> {
            String text;
            try {
                SelfTest.Report report = SelfTest.run(bundle, assets, classifier);
                StringBuilder lines = new StringBuilder(report.summary()).append('\n');
                for (SelfTest.Result result : report.results) {
                    lines.append(result).append('\n');
                }
                text = lines.toString();
            } catch (Exception e) {
                text = "self-test failed to run: " + e.getMessage();
            }
            String shown = text;
            runOnUiThread(() -> resultView.setText(shown));
        });
    }

    @Override
    protected void onDestroy() {
        worker.shutdownNow();
        if (engine != null) {
            engine.close();
        }
        super.onDestroy();
    }
}
