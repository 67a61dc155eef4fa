export interface DataBridgeStats {
  /** Frames published for other nodes (origin side). */
  framesOut: number;
  /** Messages received from other nodes and fed to bridged publishers. */
  messagesIn: number;
  /** Seq gaps seen (messages lost between nodes) and how many messages they cost. */
  gaps: number;
  lostMessages: number;
  /** Frames that did not parse. */
  malformed: number;
  /** Local DataPublishers other nodes take messages from. */
  taps: number;
  /** Bridged publishers fed from other nodes. */
  bridges: number;
}
