package dev.posbridge.terminal.message;

import java.util.Collections;
import java.util.List;

/**
 * Opens a session (docs/link-protocol.md section 4). The host sends first, with a new
 * session id; the terminal answers with the session copied and its identity.
 *
 * <p>A terminal's identity is a {@code Hello} built once: {@code new
 * Hello.Builder().serial("T-1").model("M").appVersion("1.0").conditionCodes(codes).build()};
 * the link fills in the session, the version and the idle heartbeat of each answer.
 */
public final class Hello extends Message {
  /** The kind on the wire. */
  public static final String KIND = "hello";
  /** The link protocol version this library speaks (and every version down to 1). */
  public static final long PROTOCOL_VERSION = 2;
  /** The oldest link protocol version this library still speaks. */
  public static final long MIN_PROTOCOL_VERSION = 1;
  /** The {@code role} of the host's hello. */
  public static final String HOST = "host";
  /** The {@code role} of the terminal's hello. */
  public static final String TERMINAL = "terminal";

  private final String role;
  private final long version;
  private final String session;
  private final String serial;
  private final String model;
  private final String appVersion;
  private final List<String> conditionCodes;
  private final List<String> conditionCodeNames;
  private final long idleHeartbeatMs;

  private Hello(Builder builder) {
    role = Values.text(builder.role, "role");
    version = builder.version;
    session = Values.text(builder.session, "session");
    serial = Values.text(builder.serial, "serial");
    model = Values.text(builder.model, "model");
    appVersion = Values.text(builder.appVersion, "app_version");
    conditionCodes = Values.texts(builder.conditionCodes, "condition_codes");
    conditionCodeNames = Values.texts(builder.conditionCodeNames, "condition_code_names");
    idleHeartbeatMs = builder.idleHeartbeatMs;
  }

  /** {@code "host"} or {@code "terminal"}. */
  public String role() {
    return role;
  }

  /** The link protocol version. */
  public long version() {
    return version;
  }

  /** The session id chosen by the host; {@code ""} means "no session". */
  public String session() {
    return session;
  }

  /** The terminal's serial number ({@code ""} from the host). */
  public String serial() {
    return serial;
  }

  /** The terminal's model name ({@code ""} from the host). */
  public String model() {
    return model;
  }

  /** The sender's software version. */
  public String appVersion() {
    return appVersion;
  }

  /** The condition codes (payment methods) the terminal supports, each two digits. */
  public List<String> conditionCodes() {
    return conditionCodes;
  }

  /** The name of each payment method, parallel to {@link #conditionCodes()}. */
  public List<String> conditionCodeNames() {
    return conditionCodeNames;
  }

  /**
   * The idle heartbeat interval in ms: the host's proposal, or the interval the terminal
   * agreed to; 0 keeps the default timers.
   */
  public long idleHeartbeatMs() {
    return idleHeartbeatMs;
  }

  /** A builder holding this hello's fields. */
  public Builder newBuilder() {
    return new Builder(this);
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.string("role", role)
        .integer("version", version)
        .string("session", session)
        .string("serial", serial)
        .string("model", model)
        .string("app_version", appVersion)
        .strings("condition_codes", conditionCodes)
        .strings("condition_code_names", conditionCodeNames)
        .integer("idle_heartbeat_ms", idleHeartbeatMs);
  }

  static Hello read(FieldReader in) throws RemoteProtocolException {
    return new Builder()
        .role(in.string("role"))
        .version(in.integer("version"))
        .session(in.string("session"))
        .serial(in.string("serial", ""))
        .model(in.string("model", ""))
        .appVersion(in.string("app_version", ""))
        .conditionCodes(in.strings("condition_codes"))
        .conditionCodeNames(in.strings("condition_code_names"))
        .idleHeartbeatMs(in.integer("idle_heartbeat_ms", 0))
        .build();
  }

  /**
   * Builds a {@link Hello}. It starts as a terminal's hello of {@link #PROTOCOL_VERSION}
   * with no session and every other field empty.
   */
  public static final class Builder {
    private String role = TERMINAL;
    private long version = PROTOCOL_VERSION;
    private String session = "";
    private String serial = "";
    private String model = "";
    private String appVersion = "";
    private List<String> conditionCodes = Collections.emptyList();
    private List<String> conditionCodeNames = Collections.emptyList();
    private long idleHeartbeatMs;

    public Builder() {}

    private Builder(Hello hello) {
      role = hello.role;
      version = hello.version;
      session = hello.session;
      serial = hello.serial;
      model = hello.model;
      appVersion = hello.appVersion;
      conditionCodes = hello.conditionCodes;
      conditionCodeNames = hello.conditionCodeNames;
      idleHeartbeatMs = hello.idleHeartbeatMs;
    }

    public Builder role(String role) {
      this.role = role;
      return this;
    }

    public Builder version(long version) {
      this.version = version;
      return this;
    }

    public Builder session(String session) {
      this.session = session;
      return this;
    }

    public Builder serial(String serial) {
      this.serial = serial;
      return this;
    }

    public Builder model(String model) {
      this.model = model;
      return this;
    }

    public Builder appVersion(String appVersion) {
      this.appVersion = appVersion;
      return this;
    }

    public Builder conditionCodes(List<String> conditionCodes) {
      this.conditionCodes = conditionCodes;
      return this;
    }

    public Builder conditionCodeNames(List<String> conditionCodeNames) {
      this.conditionCodeNames = conditionCodeNames;
      return this;
    }

    public Builder idleHeartbeatMs(long idleHeartbeatMs) {
      this.idleHeartbeatMs = idleHeartbeatMs;
      return this;
    }

    /**
     * The hello.
     *
     * @throws NullPointerException if a string or list is null
     * @throws IllegalArgumentException if a string is not valid Unicode
     */
    public Hello build() {
      return new Hello(this);
    }
  }
}
