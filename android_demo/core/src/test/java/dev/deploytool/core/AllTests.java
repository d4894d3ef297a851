package dev.deploytool.core;

import java.util.ArrayList;
import java.util.List;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

/**
 * Runs the unit test classes named on the command line (jvm.sh names every *Test class it
 * finds, so a new test class runs without being listed anywhere) and prints one plain line:
 * "N passed, N failed".
 */
public final class AllTests {
    private AllTests() {
    }

    public static void main(String[] args) throws ClassNotFoundException {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : args) {
            classes.add(Class.forName(name));
        }
        if (classes.isEmpty()) {
            System.out.println("0 passed, 0 failed (no test classes given)");
            System.exit(1);
        }
        Result result = JUnitCore.runClasses(classes.toArray(new Class<?>[0]));
        for (Failure failure : result.getFailures()) {
            System.out.println("FAIL " + failure.getTestHeader() + ": " + failure.getMessage());
        }
        int failed = result.getFailureCount();
        System.out.println((result.getRunCount() - failed) + " passed, " + failed + " failed");
        System.exit(failed == 0 && result.getRunCount() > 0 ? 0 : 1);
    }
}
