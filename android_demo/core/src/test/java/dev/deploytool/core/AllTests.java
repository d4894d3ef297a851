package dev.deploytool.core;

import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

/** Runs every unit test of the core and prints one plain line: "N passed, N failed". */
public final class AllTests {
    static final Class<?>[] CLASSES = {
        QuantizationTest.class, PreprocessingTest.class, PostprocessingTest.class,
        BundleConfigTest.class, ClassifierTest.class, SelfTestTest.class,
    };

    private AllTests() {
    }

    public static void main(String[] args) {
        Result result = JUnitCore.runClasses(CLASSES);
        for (Failure failure : result.getFailures()) {
            System.out.println("FAIL " + failure.getTestHeader() + ": " + failure.getMessage());
        }
        int failed = result.getFailureCount();
        System.out.println((result.getRunCount() - failed) + " passed, " + failed + " failed");
        System.exit(failed == 0 && result.getRunCount() > 0 ? 0 : 1);
    }
}
