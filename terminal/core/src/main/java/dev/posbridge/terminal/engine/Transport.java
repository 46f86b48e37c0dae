package dev.posbridge.terminal.engine;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

/**
 * One byte stream to the PC: a TCP socket, or on Android the USB accessory's streams. The
 * {@link Terminal} reads it on a thread of its own and writes it on another; closing it
 * must unblock both.
 */
public interface Transport extends Closeable {
  /** The bytes from the PC. */
  InputStream input() throws IOException;

  /** The bytes to the PC. */
  OutputStream output() throws IOException;

  /** For the log: {@code tcp://127.0.0.1:50312}, {@code usb accessory}. */
  String description();

  /** A connected socket, with Nagle's delay off (frames are small and each one matters). */
  static Transport of(Socket socket) {
    try {
      socket.setTcpNoDelay(true);
    } catch (IOException e) {
      // Only slower without it.
    }
    String description = "tcp://" + socket.getInetAddress().getHostAddress() + ":"
        + socket.getPort();
    return new Transport() {
      @Override
      public InputStream input() throws IOException {
        return socket.getInputStream();
      }

      @Override
      public OutputStream output() throws IOException {
        return socket.getOutputStream();
      }

      @Override
      public String description() {
        return description;
      }

      @Override
      public void close() throws IOException {
        socket.close();
      }
    };
  }

  /** Two streams; closing the transport closes both. */
  static Transport of(InputStream input, OutputStream output, String description) {
    return new Transport() {
      @Override
      public InputStream input() {
        return input;
      }

      @Override
      public OutputStream output() {
        return output;
      }

      @Override
      public String description() {
        return description;
      }

      @Override
      public void close() throws IOException {
        try {
          input.close();
        } finally {
          output.close();
        }
      }
    };
  }
}
