package dev.posbridge.terminal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * The shared test vectors, spec/vectors/*.json, made from the Python implementation by
 * spec/generate.py. Maven passes their folder as the system property {@code posbridge.vectors}.
 * (Test code too sticks to org.json API that Android's has: android-json-check compiles it.)
 */
public final class Vectors {
  private Vectors() {}

  public static Path folder() {
    String folder = System.getProperty("posbridge.vectors");
    if (folder == null) {
      throw new IllegalStateException("the system property posbridge.vectors is not set");
    }
    return Paths.get(folder);
  }

  public static JSONObject load(String name) throws Exception {
    Path file = folder().resolve(name);
    try {
      return new JSONObject(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException(file + " is missing: run .venv/bin/python spec/generate.py", e);
    }
  }

  public static List<JSONObject> objects(JSONArray array) throws Exception {
    List<JSONObject> out = new ArrayList<>();
    for (int i = 0; i < array.length(); i++) {
      out.add(array.getJSONObject(i));
    }
    return out;
  }

  public static List<String> strings(JSONArray array) throws Exception {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < array.length(); i++) {
      out.add(array.getString(i));
    }
    return out;
  }
}
